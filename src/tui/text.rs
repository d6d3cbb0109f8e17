//! Terminal text measurement, sanitising and wrapping that is correct for wide
//! characters (CJK, emoji, ZWJ sequences, combining marks).
//!
//! Widths are measured per grapheme cluster exactly as ratatui's buffer measures
//! them (`CellWidth`), so what we lay out is what the buffer draws: a wide
//! grapheme is never split across the right edge, and a line never overflows.

use std::borrow::Cow;
use std::ops::Range;

use ratatui::buffer::CellWidth;
use unicode_segmentation::UnicodeSegmentation;

/// Display width of one grapheme cluster (0 for control characters, which the
/// buffer drops).
pub fn grapheme_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        usize::from(g.cell_width())
    }
}

/// Display width of a string, as ratatui's buffer will draw it.
pub fn width(s: &str) -> usize {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_control()) {
        return s.len();
    }
    s.graphemes(true).map(grapheme_width).sum()
}

/// Text safe to lay out across several lines: keeps `\n`, expands tabs, makes other
/// control characters visible (the mapping of `crate::safe_text`, which the scripting
/// commands share).
pub fn sanitize(s: &str) -> Cow<'_, str> {
    crate::safe_text::neutralize(s, true)
}

/// Text safe for one line (names, previews): newlines become spaces.
pub fn sanitize_line(s: &str) -> Cow<'_, str> {
    crate::safe_text::neutralize(s, false)
}

/// Pasted text made safe to insert: line ends become `\n`, tabs stay, every other
/// control character becomes visible (ESC → ␛, C1 controls → �), so a pasted blob can
/// neither drive the terminal nor hide inside a message.
pub fn neutralize_pasted(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    s.chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn is_space(g: &str) -> bool {
    g.chars().all(char::is_whitespace)
}

/// CJK punctuation that must not begin a line (kinsoku shori): the break moves
/// one character earlier instead.
fn is_no_line_start(g: &str) -> bool {
    matches!(
        g,
        "，" | "。"
            | "、"
            | "！"
            | "？"
            | "："
            | "；"
            | "）"
            | "」"
            | "』"
            | "】"
            | "》"
            | "〉"
            | "…"
            | "ー"
            | "～"
            | "·"
            | "’"
            | "”"
    )
}

#[derive(Clone, Copy)]
struct Break {
    /// Where the current line would end (exclusive, byte offset).
    end: usize,
    /// Where the next line would start.
    next: usize,
    /// Width of the current line up to `next`.
    width: usize,
}

/// Wrap `text` into lines no wider than `width` columns and return each line as a
/// byte range into `text` (sanitise first: control characters have no width).
///
/// - `\n` always ends a line; an empty paragraph is an empty line.
/// - Lines break at whitespace when they can (the whitespace is dropped), and between
///   any two wide characters (CJK text has no spaces), never before closing CJK
///   punctuation.
/// - A word longer than the line is broken between graphemes.
/// - A grapheme cluster is never split. One wider than `width` (only possible when
///   `width` is 1) gets a line of its own and is clipped by the buffer.
pub fn wrap(text: &str, width: usize) -> Vec<Range<usize>> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut para_start = 0;
    for para in text.split('\n') {
        wrap_paragraph(text, para_start, para, width, &mut lines);
        para_start += para.len() + 1;
    }
    lines
}

fn wrap_paragraph(text: &str, base: usize, para: &str, width: usize, out: &mut Vec<Range<usize>>) {
    let push = |out: &mut Vec<Range<usize>>, start: usize, end: usize| {
        // Trailing whitespace at a soft break is not shown.
        let trimmed = text[start..end].trim_end_matches(char::is_whitespace);
        out.push(start..start + trimmed.len());
    };
    if para.is_empty() {
        out.push(base..base);
        return;
    }
    let mut line_start = base;
    let mut line_w = 0usize;
    // The last two break opportunities of the current line: when the last one would
    // start a line with closing punctuation, the one before it is used.
    let mut brk: Option<Break> = None;
    let mut prev_brk: Option<Break> = None;
    let set_brk = |brk: &mut Option<Break>, prev: &mut Option<Break>, nb: Break| {
        if brk.map(|b| b.next) != Some(nb.next) {
            *prev = *brk;
        }
        *brk = Some(nb);
    };
    // After a soft break, leading whitespace of the new line is skipped.
    let mut at_soft_start = false;

    for (off, g) in para.grapheme_indices(true) {
        let off = base + off;
        let w = grapheme_width(g);
        let space = is_space(g);

        if at_soft_start && line_start == off && space {
            line_start = off + g.len();
            continue;
        }

        if line_w + w > width && line_w > 0 {
            if space {
                // Break at this space: it vanishes.
                push(out, line_start, off);
                line_start = off + g.len();
                line_w = 0;
                brk = None;
                prev_brk = None;
                at_soft_start = true;
                continue;
            }
            let usable = |b: &Break| b.next > line_start;
            let chosen = match brk {
                Some(b) if is_no_line_start(g) && b.next == off => prev_brk.filter(usable),
                Some(b) => Some(b).filter(usable),
                None => None,
            };
            match chosen {
                Some(b) => {
                    push(out, line_start, b.end);
                    line_start = b.next;
                    line_w -= b.width;
                }
                None => {
                    push(out, line_start, off);
                    line_start = off;
                    line_w = 0;
                }
            }
            brk = None;
            prev_brk = None;
            at_soft_start = true;
            // The carried-over part plus `g` may still not fit (a long word): break
            // before `g` then.
            if line_w > 0 && line_w + w > width {
                push(out, line_start, off);
                line_start = off;
                line_w = 0;
            }
        }

        // A break is allowed before a wide character (not before closing punctuation).
        if w >= 2 && line_w > 0 && !is_no_line_start(g) {
            let nb = Break {
                end: off,
                next: off,
                width: line_w,
            };
            set_brk(&mut brk, &mut prev_brk, nb);
        }
        line_w += w;
        let end = off + g.len();
        if space {
            let nb = Break {
                end: off,
                next: end,
                width: line_w,
            };
            set_brk(&mut brk, &mut prev_brk, nb);
        } else if w >= 2 {
            let nb = Break {
                end,
                next: end,
                width: line_w,
            };
            set_brk(&mut brk, &mut prev_brk, nb);
        }
        if line_start < end {
            at_soft_start = false;
        }
    }
    push(out, line_start, base + para.len());
}

/// Cut `s` (one line) to at most `max` columns, ending in `…` when something was cut.
/// Returns the text and its width. Never splits a wide grapheme.
pub fn truncate(s: &str, max: usize) -> (Cow<'_, str>, usize) {
    let w = width(s);
    if w <= max {
        return (Cow::Borrowed(s), w);
    }
    if max == 0 {
        return (Cow::Borrowed(""), 0);
    }
    let budget = max - 1; // room for the ellipsis
    let mut used = 0;
    let mut end = 0;
    for (off, g) in s.grapheme_indices(true) {
        let gw = grapheme_width(g);
        if used + gw > budget {
            break;
        }
        used += gw;
        end = off + g.len();
    }
    let mut out = s[..end].trim_end().to_string();
    used = width(&out);
    out.push('…');
    (Cow::Owned(out), used + 1)
}

/// `s` truncated to `max` columns and padded with spaces to exactly `max`.
pub fn fit(s: &str, max: usize) -> String {
    let (t, w) = truncate(s, max);
    let mut out = t.into_owned();
    out.extend(std::iter::repeat_n(' ', max.saturating_sub(w)));
    out
}

/// Grapheme-wise lowercase chars of `s`, for case-insensitive matching on characters.
pub fn fold_chars(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, w: usize) -> Vec<&str> {
        wrap(text, w).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn ascii_word_wrap() {
        assert_eq!(
            lines("hello world foo", 11),
            vec!["hello world", "foo"],
            "breaks at the last space that fits"
        );
        assert_eq!(lines("hello world", 5), vec!["hello", "world"]);
        assert_eq!(lines("a  b", 1), vec!["a", "b"]);
    }

    #[test]
    fn long_word_is_broken_between_graphemes() {
        assert_eq!(lines("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(lines("go abcdefghij", 4), vec!["go", "abcd", "efgh", "ij"]);
    }

    #[test]
    fn newlines_and_empty_paragraphs_are_kept() {
        assert_eq!(lines("a\n\nb", 10), vec!["a", "", "b"]);
        assert_eq!(lines("", 10), vec![""]);
        assert_eq!(lines("x\n", 10), vec!["x", ""]);
    }

    #[test]
    fn cjk_breaks_between_ideographs_and_never_splits_one() {
        assert_eq!(lines("你好世界你好", 5), vec!["你好", "世界", "你好"]);
        assert_eq!(lines("你好世界", 4), vec!["你好", "世界"]);
        assert_eq!(lines("你好世界", 3), vec!["你", "好", "世", "界"]);
    }

    #[test]
    fn mixed_latin_and_cjk() {
        assert_eq!(lines("hi 你好世界", 6), vec!["hi 你", "好世界"]);
        assert_eq!(lines("termim是终端聊天", 10), vec!["termim是终", "端聊天"]);
        assert_eq!(
            lines("termim 是终端聊天", 7),
            vec!["termim", "是终端", "聊天"]
        );
    }

    #[test]
    fn closing_cjk_punctuation_never_starts_a_line() {
        // "你好" fills 4 columns; "，" may not start the next line, so "好" moves with it.
        assert_eq!(lines("你好，世界", 4), vec!["你", "好，", "世界"]);
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        let family = "👩‍👩‍👧‍👦";
        let text = format!("{family}{family}{family}");
        let got = lines(&text, 5);
        assert_eq!(got, vec![format!("{family}{family}"), family.to_string()]);
        assert_eq!(lines("🇨🇳🇺🇸🇯🇵", 4), vec!["🇨🇳🇺🇸", "🇯🇵"]);
        // e + combining acute stays one grapheme.
        assert_eq!(
            lines("e\u{301}e\u{301}e\u{301}", 2),
            vec!["e\u{301}e\u{301}", "e\u{301}"]
        );
    }

    #[test]
    fn wide_grapheme_wider_than_the_line_gets_its_own_line() {
        assert_eq!(lines("你a好", 1), vec!["你", "a", "好"]);
    }

    #[test]
    fn width_zero_is_treated_as_one() {
        assert_eq!(lines("ab", 0), vec!["a", "b"]);
    }

    /// A tiny deterministic generator, so the property below needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn property_lines_fit_and_lose_nothing() {
        let alphabet = [
            "a",
            "b",
            "Z",
            " ",
            " ",
            "  ",
            "你",
            "好",
            "，",
            "。",
            "😀",
            "👩‍👩‍👧‍👦",
            "🇨🇳",
            "e\u{301}",
            "-",
            "\n",
            "ｱ",
            "ﾞ",
            "界",
        ];
        let mut rng = Lcg(42);
        for _ in 0..3000 {
            let len = (rng.next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let w = 1 + (rng.next() % 12) as usize;
            let ranges = wrap(&text, w);
            let mut kept = String::new();
            for r in &ranges {
                let line = &text[r.clone()];
                let lw = width(line);
                assert!(
                    lw <= w || line.graphemes(true).count() == 1,
                    "line {line:?} is {lw} wide, limit {w}, text {text:?}"
                );
                assert!(!line.contains('\n'));
                kept.push_str(line);
            }
            let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(strip(&kept), strip(&text), "text {text:?} at width {w}");
            let paragraphs = text.split('\n').count();
            assert!(ranges.len() >= paragraphs);
        }
    }

    #[test]
    fn sanitize_makes_controls_visible_and_expands_tabs() {
        assert_eq!(sanitize("a\tb"), "a    b");
        assert_eq!(sanitize("x\u{1b}[2Jy"), "x␛[2Jy");
        assert_eq!(sanitize("l1\r\nl2"), "l1\nl2");
        assert_eq!(sanitize_line("l1\nl2"), "l1 l2");
        assert!(matches!(sanitize("plain 你好"), Cow::Borrowed(_)));
        assert_eq!(width(&sanitize("\u{7}\u{9b}")), 2);
    }

    #[test]
    fn pasted_controls_are_neutralized() {
        assert_eq!(
            neutralize_pasted("a\x1b[31mred\x07\r\nb\rc\td\u{9b}e\u{7f}\u{0}"),
            "a␛[31mred␇\nb\nc\td\u{FFFD}e␡␀"
        );
        assert_eq!(neutralize_pasted("plain 你好 🇯🇵"), "plain 你好 🇯🇵");
    }

    #[test]
    fn widths_match_the_buffer() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("👩‍👩‍👧‍👦"), 2);
        assert_eq!(width("e\u{301}"), 1);
    }

    #[test]
    fn truncate_adds_an_ellipsis_and_respects_wide_chars() {
        assert_eq!(truncate("hello", 5).0, "hello");
        assert_eq!(
            truncate("hello world", 8),
            (Cow::Owned("hello w…".into()), 8)
        );
        assert_eq!(truncate("hello world", 7), (Cow::Owned("hello…".into()), 6));
        // "你好世" is 6 wide; with 5 columns only "你好" + "…" fits.
        assert_eq!(truncate("你好世界", 5), (Cow::Owned("你好…".into()), 5));
        assert_eq!(truncate("你好世界", 4), (Cow::Owned("你…".into()), 3));
        assert_eq!(truncate("abc", 0).1, 0);
        assert_eq!(fit("你好世界", 5), "你好…");
        assert_eq!(fit("ab", 4), "ab  ");
    }

    #[test]
    fn fold_is_case_insensitive_per_char() {
        assert_eq!(fold_chars("AbÇ你"), vec!['a', 'b', 'ç', '你']);
    }
}
