//! JSON for custom messages: where the first error is (for the editor's check),
//! and a pretty form for showing data — made from the original text, so keys keep
//! their order and numbers their spelling.

/// The first JSON error in a text, as an editor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// 0-based line (a row of the editor).
    pub line: usize,
    /// 0-based character (not byte) index in that line; may equal the line's length
    /// (the error is at its end).
    pub col: usize,
    /// What is wrong, without the position ("expected `,` or `}`").
    pub message: String,
}

/// Check `text` as one JSON value.
pub fn check(text: &str) -> Result<(), JsonError> {
    let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) else {
        return Ok(());
    };
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    // serde_json counts lines from 1 and columns in bytes from 1 (0 = before the
    // line's first byte).
    let line = e.line().saturating_sub(1);
    let text_line = text.split('\n').nth(line).unwrap_or("");
    let mut byte = e.column().saturating_sub(1).min(text_line.len());
    while !text_line.is_char_boundary(byte) {
        byte -= 1;
    }
    // An unfinished text is wrong where it ends.
    let col = if e.is_eof() {
        text_line.chars().count()
    } else {
        text_line[..byte].chars().count()
    };
    Err(JsonError { line, col, message })
}

/// `text` indented two spaces per level, if it is a JSON object or array; `None` for
/// anything else (other JSON values and non-JSON read fine as they are).
pub fn pretty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) || check(trimmed).is_err() {
        return None;
    }
    let chars: Vec<char> = trimmed.chars().collect();
    let mut out = String::with_capacity(trimmed.len() * 2);
    let mut depth = 0usize;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                // Copy the string with its escapes untouched.
                out.push('"');
                i += 1;
                while i < chars.len() {
                    let s = chars[i];
                    out.push(s);
                    i += 1;
                    if s == '\\' {
                        if let Some(&n) = chars.get(i) {
                            out.push(n);
                            i += 1;
                        }
                    } else if s == '"' {
                        break;
                    }
                }
                continue;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let next = chars[i + 1..]
                    .iter()
                    .position(|n| !n.is_whitespace())
                    .map(|k| i + 1 + k);
                if next.is_some_and(|k| chars[k] == close) {
                    out.push(c);
                    out.push(close);
                    i = next.map_or(i, |k| k) + 1;
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_json_passes() {
        assert_eq!(check(r#"{"a":[1,2,{"b":null}]}"#), Ok(()));
        assert_eq!(check("  \"just a string\" "), Ok(()));
        assert_eq!(check("42"), Ok(()));
    }

    #[test]
    fn errors_point_at_the_character_not_the_byte() {
        // `}` where a value belongs.
        let e = check("{\"键盘\":}").expect_err("invalid");
        assert_eq!(
            (e.line, e.col),
            (0, 6),
            "the `}}` after 2 ASCII, 2 wide and 2 ASCII: {e:?}"
        );
        assert!(e.message.starts_with("expected value"), "{e:?}");
        assert!(!e.message.contains("line"), "{e:?}");

        let e = check("{\n  \"a\": 1\n  \"b\": 2\n}").expect_err("missing comma");
        assert_eq!(e.line, 2);
        assert_eq!(e.col, 2, "{e:?}");

        let e = check("{\"a\": [1, 2").expect_err("unfinished");
        assert_eq!((e.line, e.col), (0, 11), "at the end: {e:?}");
        assert!(e.message.contains("EOF"), "{e:?}");

        let e = check("").expect_err("empty");
        assert_eq!((e.line, e.col), (0, 0));
    }

    #[test]
    fn pretty_keeps_order_strings_and_numbers() {
        let p = pretty(r#"{"z":1.50,"a":"x, y: {z}","arr":[1,[],{}],"e\"q":"\u00e9 中"}"#)
            .expect("object");
        assert_eq!(
            p,
            "{\n  \"z\": 1.50,\n  \"a\": \"x, y: {z}\",\n  \"arr\": [\n    1,\n    [],\n    {}\n  ],\n  \"e\\\"q\": \"\\u00e9 中\"\n}"
        );
        assert_eq!(pretty("[ ]").as_deref(), Some("[]"));
        assert_eq!(pretty("42"), None, "scalars show as they are");
        assert_eq!(pretty("{broken"), None);
        assert_eq!(pretty("not json"), None);
    }
}
