//! The UserSig prompt: the session's UserSig expired (the SDK's `UserSigExpired`) and
//! this termim cannot sign a new one itself (it was given `--usersig`). The prompt says
//! so, says how to get one, and takes a pasted sig for `renew_user_sig`.
//!
//! When termim signs its own sigs (the embedded server, or a data directory holding the
//! server's key) it never opens: the app renews silently ([`on_expired`]).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui_textarea::TextArea;

use super::{
    Notice, boxed, draw_box, field_text, field_with, focus_field, hints, pasted, put_line,
    render_field,
};
use crate::tui::action::{Action, Context};
use crate::tui::app::{App, Overlay};
use crate::tui::effect::{Effect, SdkError};
use crate::tui::text;

#[derive(Debug, Clone)]
pub struct SigPrompt {
    pub field: TextArea<'static>,
    /// Sent; waiting for the SDK's answer.
    pub renewing: bool,
    pub notice: Option<Notice>,
}

impl PartialEq for SigPrompt {
    fn eq(&self, other: &Self) -> bool {
        self.renewing == other.renewing
            && self.notice == other.notice
            && self.field.lines() == other.field.lines()
    }
}

impl Eq for SigPrompt {}

impl SigPrompt {
    /// The pasted sig, without the white space a copy brings along.
    pub fn sig(&self) -> String {
        field_text(&self.field).trim().to_string()
    }
}

/// The SDK said the UserSig expired: sign a new one when this termim can, else ask.
pub(crate) fn on_expired(app: &mut App) -> Vec<Effect> {
    app.sig_expired = true;
    if app.can_sign {
        app.notify("UserSig expired: signing a new one…");
        return vec![Effect::RenewUserSig { user_sig: None }];
    }
    open(app, None);
    Vec::new()
}

/// Open the prompt (on top of whatever is open: nothing else works without a sig).
pub(crate) fn open(app: &mut App, notice: Option<Notice>) {
    if let Some(Overlay::UserSig(p)) = &mut app.overlay {
        p.notice = notice;
        p.renewing = false;
        return;
    }
    let mut field = field_with("", "paste the new UserSig here", &app.theme);
    // One row that scrolls sideways: a sig is a few hundred characters of one word.
    field.set_wrap_mode(ratatui_textarea::WrapMode::None);
    focus_field(&mut field, true);
    app.overlay_under = None;
    app.overlay = Some(Overlay::UserSig(Box::new(SigPrompt {
        field,
        renewing: false,
        notice,
    })));
}

pub(crate) fn handle(_app: &mut App, p: &mut SigPrompt, action: Action) -> (bool, Vec<Effect>) {
    match action {
        // The status bar keeps saying the sig expired, the help bar how to come back.
        Action::Back => return (false, Vec::new()),
        Action::Confirm if !p.renewing => {
            let sig = p.sig();
            if sig.is_empty() {
                p.notice = Notice::error("Paste a UserSig first");
                return (true, Vec::new());
            }
            p.renewing = true;
            p.notice = None;
            return (
                true,
                vec![Effect::RenewUserSig {
                    user_sig: Some(sig),
                }],
            );
        }
        Action::Input(key) if !p.renewing && p.field.input(key) => p.notice = None,
        Action::Paste(t) if !p.renewing => {
            p.field.insert_str(pasted(&t, true).trim());
            p.notice = None;
        }
        _ => {}
    }
    (true, Vec::new())
}

/// The SDK answered a `RenewUserSig`.
pub(crate) fn on_renewed(app: &mut App, error: Option<SdkError>) {
    let Some(error) = error else {
        app.sig_expired = false;
        if matches!(app.overlay, Some(Overlay::UserSig(_))) {
            app.overlay = None;
        }
        app.notify("UserSig renewed");
        return;
    };
    let why = crate::tui::explain::failure(&error);
    // Signing here failed, or the server refused the sig: a person has to give one.
    open(app, Notice::error(format!("Not renewed: {why}")));
}

// ----- view -------------------------------------------------------------------------

/// The prompt's text, most important last: what does not fit goes from the top (the
/// title already says the sig expired).
fn explanation(app: &App) -> [String; 3] {
    [
        "Your UserSig (the signed login ticket) expired: the server ends this session \
         soon unless it gets a new one."
            .to_string(),
        "Ask whoever runs the server for one, or run on its machine:".to_string(),
        format!(
            "  termim usersig --user {} --data-dir <the server's data dir>",
            text::sanitize_line(&app.me)
        ),
    ]
}

/// `t` wrapped to `w` columns.
fn wrapped(t: &str, w: usize) -> Vec<String> {
    text::wrap(t, w.max(1))
        .into_iter()
        .map(|r| t[r].to_string())
        .collect()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, p: &SigPrompt) {
    let theme = &app.theme;
    const MAX_W: u16 = 72;
    let w = usize::from(boxed(area, MAX_W, 16).width.saturating_sub(4));
    let paragraphs = explanation(app).map(|t| wrapped(&t, w));
    let all: usize = paragraphs.iter().map(Vec::len).sum();
    // Borders, a blank row and the field around the text.
    let want = u16::try_from(all).unwrap_or(u16::MAX).saturating_add(4);
    let r = boxed(area, MAX_W, want.min(16));
    if r.width < 8 || r.height < 3 {
        return;
    }
    let status = match (&p.notice, p.renewing) {
        (Some(n), _) => Some(Span::styled(n.text.clone(), n.style(theme))),
        (None, true) => Some(Span::styled("renewing…", theme.muted)),
        (None, false) => None,
    };
    let keys = hints(app, Context::UserSig, &[Action::Confirm, Action::Back]);
    let inner = draw_box(
        app,
        frame,
        r,
        vec![Span::styled("UserSig expired", theme.error)],
        status,
        &keys,
    );
    if inner.height == 0 {
        return;
    }
    // The field takes the last row, a blank row (when there is room) the one above.
    let room = usize::from(inner.height.saturating_sub(2).max(inner.height.min(2) - 1));
    let mut shown: Vec<&str> = Vec::new();
    for para in paragraphs.iter().rev() {
        if shown.len() + para.len() > room {
            continue;
        }
        shown.splice(0..0, para.iter().map(String::as_str));
    }
    for (i, l) in shown.iter().enumerate() {
        let style = if i + 1 == shown.len() {
            theme.accent
        } else {
            ratatui::style::Style::default()
        };
        put_line(
            frame,
            inner,
            inner.y + i as u16,
            &Line::styled(l.to_string(), style),
        );
    }
    let field = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    render_field(frame, &p.field, field, !p.renewing, theme.input);
}
