//! The status bar (connection, user, unread, notices) and the help bar (built
//! from the keymap for the focused context).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::app::App;
use crate::tui::event::ConnectionStatus;
use crate::tui::text;

pub fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let bar = theme.status_bar;
    frame.buffer_mut().set_style(area, bar);
    let (glyph, label, style) = match app.connection {
        ConnectionStatus::Connected => ("●", "online", theme.connected),
        ConnectionStatus::Connecting => ("◌", "connecting…", theme.connecting),
        ConnectionStatus::Disconnected => ("○", "offline, reconnecting…", theme.disconnected),
        ConnectionStatus::LoggedOut => ("○", "signed out", theme.disconnected),
    };
    let mut left = vec![
        Span::styled(format!(" {glyph} {label}"), bar.patch(style)),
        Span::styled("  ", bar),
        Span::styled(
            text::sanitize_line(&app.me).into_owned(),
            bar.add_modifier(ratatui::style::Modifier::BOLD),
        ),
    ];
    if app.sig_expired {
        left.push(Span::styled("  UserSig expired", bar.patch(theme.error)));
    }
    if app.total_unread > 0 {
        left.push(Span::styled(
            format!("  {} unread", app.total_unread),
            bar.patch(theme.accent),
        ));
    }
    if app.syncing && app.connection == ConnectionStatus::Connected {
        left.push(Span::styled("  syncing…", bar.patch(theme.muted)));
    }
    let left = super::fit_spans(left, usize::from(area.width)).style(bar);
    let lw = left.width();
    frame
        .buffer_mut()
        .set_line(area.x, area.y, &left, area.width);

    // A notice, else (while offline) why the latest connect failed.
    let offline_why = match (&app.connect_error, app.connection) {
        (Some(why), ConnectionStatus::Disconnected) => Some((why.as_str(), true)),
        _ => None,
    };
    let notice = app
        .visible_status()
        .map(|s| (s.text.as_str(), s.error))
        .or(offline_why);
    if let Some((notice, error)) = notice {
        let room = usize::from(area.width).saturating_sub(lw + 3);
        if room >= 8 {
            let clean = text::sanitize_line(notice);
            let (t, tw) = text::truncate(&clean, room);
            let style = if error { bar.patch(theme.error) } else { bar };
            let x = area.right() - (tw as u16) - 1;
            frame.buffer_mut().set_string(x, area.y, t, style);
        }
    }
}

pub fn render_help_bar(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let chain = app.focus_chain();
    let mut spans: Vec<Span> = vec![Span::raw(" ")];
    let mut used = 1usize;
    let max = usize::from(area.width);
    for item in app.keymap.help_bar(&chain) {
        if !app.available(&item.action) {
            continue;
        }
        let label = app.bar_label(&item.action, item.label);
        let w = text::width(&item.keys) + 1 + text::width(label) + 2;
        if used + w > max {
            continue;
        }
        used += w;
        spans.push(Span::styled(item.keys, theme.help_key));
        spans.push(Span::styled(format!(" {label}  "), theme.help_label));
    }
    frame
        .buffer_mut()
        .set_line(area.x, area.y, &Line::from(spans), area.width);
}
