//! Colours and text styles: defaults in `assets/theme.toml` (embedded), overridable
//! from the user's `[theme]` table.

use ratatui::style::{Color, Modifier, Style};

pub const DEFAULT_THEME: &str = include_str!("../../assets/theme.toml");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    #[error("theme: not valid TOML: {0}")]
    Toml(String),
    #[error("theme: unknown entry \"{0}\"")]
    UnknownKey(String),
    #[error("theme {key}: expected a style string such as \"cyan bold\" or \"black on yellow\"")]
    NotAString { key: String },
    #[error("theme {key}: \"{word}\" is not a colour or modifier")]
    BadWord { key: String, word: String },
    #[error("theme sender_colors: expected a non-empty list of colour names")]
    BadSenderColors,
}

/// Every style the views use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub accent: Style,
    pub border: Style,
    pub title: Style,
    pub muted: Style,
    pub selection: Style,
    pub selection_marker: Style,
    pub unread_name: Style,
    pub badge: Style,
    pub pin: Style,
    pub draft: Style,
    pub time: Style,
    pub system: Style,
    pub day_separator: Style,
    pub sending: Style,
    pub sent: Style,
    pub failed: Style,
    pub error: Style,
    pub custom: Style,
    pub targeted: Style,
    pub online_only: Style,
    pub matched: Style,
    pub status_bar: Style,
    pub connected: Style,
    pub connecting: Style,
    pub disconnected: Style,
    pub help_key: Style,
    pub help_label: Style,
    pub new_below: Style,
    pub ok: Style,
    pub marked: Style,
    pub local_only: Style,
    pub error_mark: Style,
    pub input: Style,
    pub sender_colors: Vec<Color>,
    pub sender_self: Style,
}

/// Parse "fg on bg mod mod…" into a style.
pub fn parse_style(key: &str, spec: &str) -> Result<Style, ThemeError> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace().peekable();
    let bad = |word: &str| ThemeError::BadWord {
        key: key.to_string(),
        word: word.to_string(),
    };
    while let Some(word) = words.next() {
        let modifier = match word.to_ascii_lowercase().as_str() {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" | "underline" => Some(Modifier::UNDERLINED),
            "reversed" | "reverse" => Some(Modifier::REVERSED),
            "crossed" | "strikethrough" => Some(Modifier::CROSSED_OUT),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
        } else if word.eq_ignore_ascii_case("on") {
            let bg = words.next().ok_or_else(|| bad("on"))?;
            style = style.bg(bg.parse::<Color>().map_err(|_| bad(bg))?);
        } else {
            style = style.fg(word.parse::<Color>().map_err(|_| bad(word))?);
        }
    }
    Ok(style)
}

impl Theme {
    /// The embedded defaults with `overrides` (the user's `[theme]` table) on top.
    pub fn load(overrides: Option<&toml::Table>) -> Result<Self, ThemeError> {
        let mut table: toml::Table =
            toml::from_str(DEFAULT_THEME).map_err(|e| ThemeError::Toml(e.to_string()))?;
        if let Some(user) = overrides {
            for (k, v) in user {
                if !table.contains_key(k) {
                    return Err(ThemeError::UnknownKey(k.clone()));
                }
                table.insert(k.clone(), v.clone());
            }
        }
        let style = |key: &str| -> Result<Style, ThemeError> {
            match table.get(key) {
                Some(toml::Value::String(s)) => parse_style(key, s),
                _ => Err(ThemeError::NotAString {
                    key: key.to_string(),
                }),
            }
        };
        let sender_colors = match table.get("sender_colors") {
            Some(toml::Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(|s| s.parse::<Color>().ok())
                        .ok_or(ThemeError::BadSenderColors)
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(ThemeError::BadSenderColors),
        };
        Ok(Theme {
            accent: style("accent")?,
            border: style("border")?,
            title: style("title")?,
            muted: style("muted")?,
            selection: style("selection")?,
            selection_marker: style("selection_marker")?,
            unread_name: style("unread_name")?,
            badge: style("badge")?,
            pin: style("pin")?,
            draft: style("draft")?,
            time: style("time")?,
            system: style("system")?,
            day_separator: style("day_separator")?,
            sending: style("sending")?,
            sent: style("sent")?,
            failed: style("failed")?,
            error: style("error")?,
            custom: style("custom")?,
            targeted: style("targeted")?,
            online_only: style("online_only")?,
            matched: style("matched")?,
            status_bar: style("status_bar")?,
            connected: style("connected")?,
            connecting: style("connecting")?,
            disconnected: style("disconnected")?,
            help_key: style("help_key")?,
            help_label: style("help_label")?,
            new_below: style("new_below")?,
            ok: style("ok")?,
            marked: style("marked")?,
            local_only: style("local_only")?,
            error_mark: style("error_mark")?,
            input: style("input")?,
            sender_colors,
            sender_self: style("sender_self")?,
        })
    }

    /// A stable colour per user id (FNV-1a), so a sender keeps their colour.
    pub fn sender(&self, user_id: &str, is_self: bool) -> Style {
        if is_self {
            return self.sender_self;
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in user_id.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        let n = self.sender_colors.len().max(1);
        let color = self
            .sender_colors
            .get(h as usize % n)
            .copied()
            .unwrap_or(Color::Reset);
        Style::default().fg(color).add_modifier(Modifier::BOLD)
    }
}

impl Default for Theme {
    fn default() -> Self {
        // Checked by `default_theme_loads`; a failure is a build defect.
        Self::load(None).unwrap_or_else(|e| panic!("embedded theme is invalid: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_theme_loads() {
        let t = Theme::load(None).expect("defaults");
        assert_eq!(t.badge.bg, Some(Color::Cyan));
        assert!(t.badge.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.selection.bg, Some(Color::Indexed(236)));
    }

    #[test]
    fn styles_parse() {
        let s = parse_style("k", "#ff8800 on 236 italic underlined").expect("valid");
        assert_eq!(s.fg, Some(Color::Rgb(0xff, 0x88, 0)));
        assert_eq!(s.bg, Some(Color::Indexed(236)));
        assert!(
            s.add_modifier
                .contains(Modifier::ITALIC | Modifier::UNDERLINED)
        );
        assert_eq!(
            parse_style("k", "").expect("empty is default"),
            Style::default()
        );
    }

    #[test]
    fn overrides_apply_and_errors_name_the_entry() {
        let user: toml::Table = toml::from_str("badge = \"white on red\"").expect("toml");
        let t = Theme::load(Some(&user)).expect("valid");
        assert_eq!(t.badge.bg, Some(Color::Red));

        let cases = [
            ("badgee = \"red\"", "unknown entry \"badgee\""),
            (
                "badge = \"chartreuse\"",
                "theme badge: \"chartreuse\" is not a colour",
            ),
            ("badge = \"red on\"", "theme badge: \"on\""),
            ("badge = 3", "theme badge: expected a style string"),
            ("sender_colors = []", "sender_colors"),
        ];
        for (text, needle) in cases {
            let user: toml::Table = toml::from_str(text).expect("toml");
            let err = Theme::load(Some(&user)).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn sender_colour_is_stable() {
        let t = Theme::default();
        assert_eq!(t.sender("bob", false), t.sender("bob", false));
        assert_eq!(t.sender("bob", true), t.sender_self);
    }
}
