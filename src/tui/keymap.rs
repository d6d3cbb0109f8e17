//! Keys are data: the defaults live in `assets/keymap.toml` (embedded), a user's
//! `[keymap]` table overrides any action per context, and the help bar and help
//! overlay are generated from the result so they never drift from it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Context};

/// The default keymap, compiled in.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// One key with its modifiers, normalised so that what a terminal sends and what a
/// keymap file says compare equal ("G" == shift-g, "shift-tab" == backtab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyChord {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        Self::normalise(code, mods)
    }

    fn normalise(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                let shifted = mods.contains(KeyModifiers::SHIFT);
                mods.remove(KeyModifiers::SHIFT);
                if shifted {
                    KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
                } else if mods.contains(KeyModifiers::CONTROL) && c.is_ascii_uppercase() {
                    // Legacy terminals can't tell ctrl-C from ctrl-c.
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::normalise(ev.code, ev.modifiers)
    }

    /// A plain typed character (no ctrl/alt): text in the composer and the filter.
    pub fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .mods
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    /// Short human form for the help bar and overlay: "^C", "Alt-Enter", "Shift-Tab",
    /// "PgUp", "↑", "Space", "?".
    pub fn display(&self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Backspace => "Bksp".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Insert => "Ins".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        let ctrl = self.mods.contains(KeyModifiers::CONTROL);
        let alt = self.mods.contains(KeyModifiers::ALT);
        let shift = self.mods.contains(KeyModifiers::SHIFT);
        let mut out = String::new();
        if ctrl {
            if let (KeyCode::Char(c), false) = (self.code, alt || shift) {
                return format!("^{}", c.to_uppercase());
            }
            out.push_str("Ctrl-");
        }
        if alt {
            out.push_str("Alt-");
        }
        if shift {
            out.push_str("Shift-");
        }
        out.push_str(&name);
        out
    }
}

/// The keymap-file spelling ("ctrl-c", "alt-enter", "G", "?").
impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

fn named_key(name: &str) -> Option<KeyCode> {
    Some(match name.to_ascii_lowercase().as_str() {
        "enter" | "return" | "ret" | "cr" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" | "spc" => KeyCode::Char(' '),
        "backspace" | "bs" | "bksp" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pgdown" | "pagedown" => KeyCode::PageDown,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "minus" => KeyCode::Char('-'),
        "hyphen" => KeyCode::Char('-'),
        f if f.len() >= 2 && f.starts_with('f') => {
            let n: u8 = f[1..].parse().ok()?;
            if !(1..=24).contains(&n) {
                return None;
            }
            KeyCode::F(n)
        }
        _ => return None,
    })
}

impl FromStr for KeyChord {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty key".into());
        }
        // The key itself is the last '-'-separated part, except that "-" (alone or
        // after a modifier, "ctrl--") is the minus key.
        let (mods_part, key_part) = if s == "-" {
            ("", "-")
        } else if let Some(m) = s.strip_suffix("--") {
            (m, "-")
        } else {
            match s.rfind('-') {
                Some(i) if i + 1 == s.len() => {
                    return Err(format!("nothing after \"{}\"", s));
                }
                Some(i) => (&s[..i], &s[i + 1..]),
                None => ("", s),
            }
        };
        let mut mods = KeyModifiers::NONE;
        if !mods_part.is_empty() {
            for m in mods_part.split('-') {
                mods |= match m.to_ascii_lowercase().as_str() {
                    "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
                    "alt" | "meta" | "option" | "m" => KeyModifiers::ALT,
                    "shift" | "s" => KeyModifiers::SHIFT,
                    "" => return Err("empty modifier (two '-' in a row?)".into()),
                    other => {
                        return Err(format!(
                            "unknown modifier \"{other}\" (use ctrl, alt or shift)"
                        ));
                    }
                };
            }
        }
        let mut chars = key_part.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => named_key(key_part).ok_or_else(|| {
                format!(
                    "unknown key \"{key_part}\" (a single character, or one of enter, esc, \
                     tab, backtab, space, backspace, delete, insert, home, end, pgup, pgdn, \
                     up, down, left, right, f1…f12)"
                )
            })?,
        };
        Ok(Self::new(code, mods))
    }
}

/// A keymap that could not be loaded, naming the context, action and key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("keymap: not valid TOML: {0}")]
    Toml(String),
    #[error(
        "keymap: unknown context [{0}]; contexts are global, list, messages, composer, filter, picker, custom_message, send_options, conversation_data, details, help"
    )]
    UnknownContext(String),
    #[error("keymap: [{0}] must be a table of action = [\"key\", …]")]
    NotATable(String),
    #[error("keymap [{context}]: unknown action \"{action}\"")]
    UnknownAction { context: String, action: String },
    #[error("keymap [{context}] {action}: this action does nothing here; it works in: {allowed}")]
    NotAvailable {
        context: String,
        action: String,
        allowed: String,
    },
    #[error("keymap [{context}] {action}: expected a key string or a list of key strings")]
    BadValue { context: String, action: String },
    #[error("keymap [{context}] {action}: \"{key}\" is not a key: {reason}")]
    BadKey {
        context: String,
        action: String,
        key: String,
        reason: String,
    },
    #[error("keymap [{context}]: \"{key}\" is bound to both {first} and {second}")]
    Conflict {
        context: String,
        key: String,
        first: String,
        second: String,
    },
}

/// One action and its keys (first = primary).
type Binding = (Action, Vec<KeyChord>);

/// Bindings of one context, in help order: each action with its keys (first = primary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ContextMap {
    bindings: Vec<(Action, Vec<KeyChord>)>,
}

impl ContextMap {
    fn set(&mut self, action: Action, keys: Vec<KeyChord>) {
        for (_, ks) in &mut self.bindings {
            ks.retain(|k| !keys.contains(k));
        }
        match self.bindings.iter_mut().find(|(a, _)| *a == action) {
            Some((_, ks)) => *ks = keys,
            None => {
                self.bindings.push((action, keys));
                self.bindings.sort_by_key(|(a, _)| a.order());
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    contexts: HashMap<Context, ContextMap>,
    index: HashMap<(Context, KeyChord), Action>,
}

/// Parse one `[context]` table into (action, keys), checking each entry.
fn parse_table(
    ctx_name: &str,
    value: &toml::Value,
) -> Result<(Context, Vec<Binding>), KeymapError> {
    let ctx = Context::from_name(ctx_name)
        .ok_or_else(|| KeymapError::UnknownContext(ctx_name.to_string()))?;
    let table = value
        .as_table()
        .ok_or_else(|| KeymapError::NotATable(ctx_name.to_string()))?;
    let mut out = Vec::new();
    let mut seen: HashMap<KeyChord, Action> = HashMap::new();
    for (action_name, keys) in table {
        let action = Action::from_name(action_name).ok_or_else(|| KeymapError::UnknownAction {
            context: ctx_name.to_string(),
            action: action_name.clone(),
        })?;
        if !action.allowed_in(ctx) {
            return Err(KeymapError::NotAvailable {
                context: ctx_name.to_string(),
                action: action_name.clone(),
                allowed: action
                    .contexts()
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let bad_value = || KeymapError::BadValue {
            context: ctx_name.to_string(),
            action: action_name.clone(),
        };
        let strings: Vec<&str> = match keys {
            toml::Value::String(s) => vec![s.as_str()],
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(bad_value))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad_value()),
        };
        let mut chords = Vec::with_capacity(strings.len());
        for s in strings {
            let chord = s
                .parse::<KeyChord>()
                .map_err(|reason| KeymapError::BadKey {
                    context: ctx_name.to_string(),
                    action: action_name.clone(),
                    key: s.to_string(),
                    reason,
                })?;
            if let Some(prev) = seen.get(&chord)
                && *prev != action
            {
                return Err(KeymapError::Conflict {
                    context: ctx_name.to_string(),
                    key: s.to_string(),
                    first: prev.name().to_string(),
                    second: action_name.clone(),
                });
            }
            seen.insert(chord, action.clone());
            if !chords.contains(&chord) {
                chords.push(chord);
            }
        }
        out.push((action, chords));
    }
    Ok((ctx, out))
}

impl Keymap {
    /// The embedded defaults, with `overrides` (the user's `[keymap]` table) on top.
    pub fn load(overrides: Option<&toml::Table>) -> Result<Self, KeymapError> {
        let defaults: toml::Table =
            toml::from_str(DEFAULT_KEYMAP).map_err(|e| KeymapError::Toml(e.to_string()))?;
        let mut map = Keymap {
            contexts: HashMap::new(),
            index: HashMap::new(),
        };
        for (ctx_name, value) in &defaults {
            let (ctx, bindings) = parse_table(ctx_name, value)?;
            let cm = map.contexts.entry(ctx).or_default();
            for (action, keys) in bindings {
                cm.set(action, keys);
            }
        }
        if let Some(user) = overrides {
            map.apply(user)?;
        }
        map.reindex();
        Ok(map)
    }

    /// Parse a `[keymap]` table given as TOML text (tables per context), over the defaults.
    pub fn from_toml_str(overrides: &str) -> Result<Self, KeymapError> {
        let table: toml::Table =
            toml::from_str(overrides).map_err(|e| KeymapError::Toml(e.to_string()))?;
        Self::load(Some(&table))
    }

    fn apply(&mut self, user: &toml::Table) -> Result<(), KeymapError> {
        for (ctx_name, value) in user {
            let (ctx, bindings) = parse_table(ctx_name, value)?;
            let cm = self.contexts.entry(ctx).or_default();
            for (action, keys) in bindings {
                cm.set(action, keys);
            }
        }
        Ok(())
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (ctx, cm) in &self.contexts {
            for (action, keys) in &cm.bindings {
                for k in keys {
                    self.index.insert((*ctx, *k), action.clone());
                }
            }
        }
    }

    /// The action bound to `key` in `ctx` (not falling back to other contexts).
    pub fn lookup(&self, ctx: Context, key: &KeyChord) -> Option<&Action> {
        self.index.get(&(ctx, *key))
    }

    /// Keys of `action` in `ctx`, primary first.
    pub fn keys(&self, ctx: Context, action: &Action) -> &[KeyChord] {
        self.contexts
            .get(&ctx)
            .and_then(|cm| cm.bindings.iter().find(|(a, _)| a == action))
            .map_or(&[], |(_, ks)| ks.as_slice())
    }

    /// Every binding of `ctx` in help order, skipping unbound actions.
    pub fn bindings(&self, ctx: Context) -> impl Iterator<Item = (&Action, &[KeyChord])> {
        self.contexts
            .get(&ctx)
            .into_iter()
            .flat_map(|cm| cm.bindings.iter())
            .filter(|(_, ks)| !ks.is_empty())
            .map(|(a, ks)| (a, ks.as_slice()))
    }

    /// Does `key`, bound in `chain[pos]`, actually reach that context? Not when an
    /// earlier context binds it, nor when the first context takes text and it is a
    /// typed character.
    fn reaches(&self, chain: &[Context], pos: usize, key: &KeyChord) -> bool {
        if pos > 0 && chain[0].takes_text() && key.is_text() {
            return false;
        }
        chain[..pos].iter().all(|c| self.lookup(*c, key).is_none())
    }

    /// The keys that trigger `action` along `chain`, from the first context that has
    /// any that reach it.
    pub fn usable_keys(
        &self,
        chain: &[Context],
        action: &Action,
    ) -> Option<(Context, Vec<KeyChord>)> {
        chain.iter().enumerate().find_map(|(pos, ctx)| {
            let ks: Vec<KeyChord> = self
                .keys(*ctx, action)
                .iter()
                .filter(|k| self.reaches(chain, pos, k))
                .copied()
                .collect();
            (!ks.is_empty()).then_some((*ctx, ks))
        })
    }

    /// The first key that triggers `action` along `chain` (for "press X to …" hints),
    /// in display form.
    pub fn hint(&self, chain: &[Context], action: &Action) -> Option<String> {
        self.usable_keys(chain, action)
            .map(|(_, ks)| ks[0].display())
    }

    /// Help-bar items along `chain`, most important first: each action once, with
    /// the keys that really reach it; `select_next`/`select_prev` share one item
    /// ("j/k move"), as do `page_up`/`page_down`.
    pub fn help_bar(&self, chain: &[Context]) -> Vec<HelpItem> {
        let mut out: Vec<HelpItem> = Vec::new();
        for action in Action::BINDABLE {
            if !action.in_help_bar() {
                continue;
            }
            let Some((ctx, keys)) = self.usable_keys(chain, &action) else {
                continue;
            };
            let mut text = keys[0].display();
            let pair = match action {
                Action::SelectNext => Some((Action::SelectPrev, true)),
                Action::SelectPrev => Some((Action::SelectNext, false)),
                Action::PageUp => Some((Action::PageDown, true)),
                Action::PrevValue => Some((Action::NextValue, true)),
                _ => None,
            };
            if let Some((other, after)) = pair {
                if out.iter().any(|i| i.action == other) {
                    continue;
                }
                if let Some((_, oks)) = self.usable_keys(chain, &other) {
                    let o = oks[0].display();
                    text = if after {
                        format!("{text}/{o}")
                    } else {
                        format!("{o}/{text}")
                    };
                }
            }
            out.push(HelpItem {
                label: action.label(ctx),
                action,
                keys: text,
            });
        }
        out.sort_by_key(|i| i.action.bar_priority());
        out
    }
}

/// One entry of the help bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpItem {
    pub action: Action,
    pub keys: String,
    pub label: &'static str,
}

impl Default for Keymap {
    fn default() -> Self {
        // The embedded defaults are checked by `default_keymap_loads` below; a failure
        // here is a build defect, never user input.
        Self::load(None).unwrap_or_else(|e| panic!("embedded keymap is invalid: {e}"))
    }
}

/// Is this key event one we act on? Release and repeat-less noise from terminals
/// with the kitty protocol is ignored.
pub fn is_press(ev: &KeyEvent) -> bool {
    ev.kind != KeyEventKind::Release
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KeyChord {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_plain_named_and_modified_keys() {
        assert_eq!(
            k("j"),
            KeyChord::new(KeyCode::Char('j'), KeyModifiers::NONE)
        );
        assert_eq!(
            k("?"),
            KeyChord::new(KeyCode::Char('?'), KeyModifiers::NONE)
        );
        assert_eq!(
            k("/"),
            KeyChord::new(KeyCode::Char('/'), KeyModifiers::NONE)
        );
        assert_eq!(
            k("ctrl-c"),
            KeyChord::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            k("Ctrl-C"),
            k("ctrl-c"),
            "legacy terminals can't tell them apart"
        );
        assert_eq!(
            k("alt-enter"),
            KeyChord::new(KeyCode::Enter, KeyModifiers::ALT)
        );
        assert_eq!(
            k("shift-tab"),
            KeyChord::new(KeyCode::BackTab, KeyModifiers::NONE)
        );
        assert_eq!(k("backtab"), k("shift-tab"));
        assert_eq!(
            k("pgup"),
            KeyChord::new(KeyCode::PageUp, KeyModifiers::NONE)
        );
        assert_eq!(
            k("PageDown"),
            KeyChord::new(KeyCode::PageDown, KeyModifiers::NONE)
        );
        assert_eq!(k("f5"), KeyChord::new(KeyCode::F(5), KeyModifiers::NONE));
        assert_eq!(
            k("space"),
            KeyChord::new(KeyCode::Char(' '), KeyModifiers::NONE)
        );
        assert_eq!(
            k("-"),
            KeyChord::new(KeyCode::Char('-'), KeyModifiers::NONE)
        );
        assert_eq!(
            k("ctrl--"),
            KeyChord::new(KeyCode::Char('-'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            k("ctrl-alt-x"),
            KeyChord::new(
                KeyCode::Char('x'),
                KeyModifiers::CONTROL | KeyModifiers::ALT
            )
        );
        assert_eq!(k("G"), k("shift-g"));
        assert_eq!(
            k("你"),
            KeyChord::new(KeyCode::Char('你'), KeyModifiers::NONE)
        );
    }

    #[test]
    fn terminal_events_normalise_like_the_file() {
        let ev = |code, mods| KeyChord::from_event(&KeyEvent::new(code, mods));
        assert_eq!(ev(KeyCode::Char('G'), KeyModifiers::SHIFT), k("G"));
        assert_eq!(
            ev(KeyCode::Char('g'), KeyModifiers::SHIFT),
            k("G"),
            "kitty reports lower+shift"
        );
        assert_eq!(ev(KeyCode::Char('?'), KeyModifiers::SHIFT), k("?"));
        assert_eq!(ev(KeyCode::BackTab, KeyModifiers::SHIFT), k("shift-tab"));
        assert_eq!(ev(KeyCode::Char('c'), KeyModifiers::CONTROL), k("ctrl-c"));
        assert_eq!(ev(KeyCode::Enter, KeyModifiers::SHIFT), k("shift-enter"));
    }

    #[test]
    fn bad_keys_say_what_is_wrong() {
        for (s, needle) in [
            ("", "empty"),
            ("ctrl-", "nothing after"),
            ("hyper-x", "unknown modifier \"hyper\""),
            ("enterr", "unknown key \"enterr\""),
            ("f99", "unknown key"),
            ("ctrl--x", "empty modifier"),
        ] {
            let err = s.parse::<KeyChord>().expect_err(s);
            assert!(err.contains(needle), "{s:?}: {err}");
        }
    }

    #[test]
    fn display_forms() {
        assert_eq!(k("ctrl-c").display(), "^C");
        assert_eq!(k("alt-enter").display(), "Alt-Enter");
        assert_eq!(k("shift-tab").display(), "Shift-Tab");
        assert_eq!(k("pgup").display(), "PgUp");
        assert_eq!(k("down").display(), "↓");
        assert_eq!(k("space").display(), "Space");
        for s in [
            "ctrl-c",
            "alt-enter",
            "shift-tab",
            "G",
            "?",
            "pgdn",
            "f1",
            "space",
            "ctrl--",
        ] {
            assert_eq!(
                k(&k(s).to_string()),
                k(s),
                "{s} round-trips through Display"
            );
        }
    }

    #[test]
    fn default_keymap_loads() {
        let km = Keymap::load(None).expect("defaults load");
        assert_eq!(
            km.lookup(Context::Global, &k("ctrl-c")),
            Some(&Action::Quit)
        );
        assert_eq!(km.lookup(Context::List, &k("q")), Some(&Action::Quit));
        assert_eq!(
            km.lookup(Context::Composer, &k("enter")),
            Some(&Action::Send)
        );
        assert_eq!(
            km.lookup(Context::Composer, &k("alt-enter")),
            Some(&Action::Newline)
        );
        assert_eq!(
            km.lookup(Context::Composer, &k("shift-enter")),
            Some(&Action::Newline)
        );
        assert_eq!(km.lookup(Context::Global, &k("?")), Some(&Action::Help));
        assert_eq!(km.lookup(Context::Global, &k("/")), Some(&Action::Filter));
        assert_eq!(
            km.lookup(Context::Global, &k("shift-tab")),
            Some(&Action::FocusPrev)
        );
        assert_eq!(
            km.lookup(Context::Messages, &k("pgup")),
            Some(&Action::PageUp)
        );
        // Every context has bindings and every binding is allowed where it is.
        for ctx in Context::ALL {
            assert!(km.bindings(ctx).count() > 0, "{ctx:?} is empty");
            for (a, _) in km.bindings(ctx) {
                assert!(a.allowed_in(ctx), "{} in {}", a.name(), ctx.name());
            }
        }
    }

    #[test]
    fn overrides_replace_an_action_and_steal_its_keys() {
        let km = Keymap::from_toml_str(
            r#"
            [composer]
            send = ["ctrl-s"]
            newline = ["enter", "alt-enter"]
            [list]
            quit = []
            "#,
        )
        .expect("valid overrides");
        assert_eq!(
            km.lookup(Context::Composer, &k("ctrl-s")),
            Some(&Action::Send)
        );
        assert_eq!(
            km.lookup(Context::Composer, &k("enter")),
            Some(&Action::Newline)
        );
        assert_eq!(km.keys(Context::Composer, &Action::Send), &[k("ctrl-s")]);
        assert_eq!(
            km.lookup(Context::List, &k("q")),
            None,
            "unbound by an empty list"
        );
        // Untouched bindings stay.
        assert_eq!(
            km.lookup(Context::Global, &k("ctrl-c")),
            Some(&Action::Quit)
        );
    }

    #[test]
    fn an_override_key_taken_from_another_action_leaves_it_its_other_keys() {
        let km = Keymap::from_toml_str("[list]\ntoggle_pin = \"j\"\n").expect("valid");
        assert_eq!(km.lookup(Context::List, &k("j")), Some(&Action::TogglePin));
        assert_eq!(km.keys(Context::List, &Action::SelectNext), &[k("down")]);
    }

    #[test]
    fn override_errors_name_the_culprit() {
        let cases = [
            ("[nowhere]\nquit = \"q\"", "unknown context [nowhere]"),
            (
                "[list]\nfly = \"f\"",
                "keymap [list]: unknown action \"fly\"",
            ),
            (
                "[list]\nsend = \"s\"",
                "keymap [list] send: this action does nothing here; it works in: composer",
            ),
            (
                "[list]\nquit = 3",
                "keymap [list] quit: expected a key string",
            ),
            (
                "[list]\nquit = [\"ctrl-\"]",
                "keymap [list] quit: \"ctrl-\" is not a key: nothing after",
            ),
            (
                "[list]\nquit = \"x\"\nopen = \"x\"",
                "\"x\" is bound to both",
            ),
            ("list = 1", "[list] must be a table"),
            ("[list", "not valid TOML"),
        ];
        for (text, needle) in cases {
            let err = Keymap::from_toml_str(text).expect_err(text).to_string();
            assert!(
                err.contains(needle),
                "{text:?} gave {err:?}, wanted {needle:?}"
            );
        }
    }

    #[test]
    fn help_bar_comes_from_the_keymap() {
        let km = Keymap::default();
        let items = |km: &Keymap, chain: &[Context]| -> Vec<(String, &'static str)> {
            km.help_bar(chain)
                .into_iter()
                .map(|i| (i.keys, i.label))
                .collect()
        };
        let bar = items(&km, &[Context::Composer, Context::Global]);
        assert_eq!(bar[0], ("Enter".to_string(), "send"));
        assert_eq!(bar[1], ("Alt-Enter".to_string(), "newline"));
        // "?" and "/" are text in the composer: the bar offers the keys that work.
        assert!(bar.contains(&("F1".to_string(), "help")), "{bar:?}");
        assert!(!bar.iter().any(|(_, l)| *l == "filter"), "{bar:?}");
        let bar = items(&km, &[Context::List, Context::Global]);
        assert!(bar.contains(&("j/k".to_string(), "move")), "{bar:?}");
        assert!(bar.contains(&("?".to_string(), "help")), "{bar:?}");
        assert!(
            bar.contains(&("q".to_string(), "quit")),
            "the list's q shadows ^C: {bar:?}"
        );
        let km = Keymap::from_toml_str("[composer]\nsend = \"ctrl-s\"").expect("valid");
        let bar = items(&km, &[Context::Composer, Context::Global]);
        assert_eq!(
            bar[0],
            ("^S".to_string(), "send"),
            "the bar follows overrides"
        );
        assert_eq!(
            km.hint(&[Context::Composer], &Action::Send).as_deref(),
            Some("^S")
        );
    }
}
