//! Whole-app snapshots: the UI rendered into ratatui's `TestBackend` at fixed
//! sizes, with the clock frozen (see `tui_support`). CI runs with
//! `INSTA_UPDATE=no`, so a changed screen fails until the snapshot is reviewed.

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use termim::model::MessageStatus;
use termim::tui::effect::{EffectResult, HistoryDirection, SdkError};
use termim::tui::{Action, App, ConnectionStatus, SdkEvent, handle_key, update};
use tui_support::*;

fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(name, screen(app));
}

fn key(app: &mut App, code: KeyCode) {
    handle_key(app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn typing(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn empty_while_loading() {
    let app = sized(app(), 80, 24);
    snap("empty_while_loading", &app);
}

#[test]
fn empty_workspace() {
    let mut app = sized(app(), 80, 24);
    app.apply_result(EffectResult::Conversations {
        list: vec![],
        total_unread: Some(0),
    });
    snap("empty_workspace", &app);
}

#[test]
fn list_loaded_with_unread_badges_pins_and_drafts() {
    let app = sized(workspace(), 80, 24);
    snap("list_loaded", &app);
}

#[test]
fn conversation_open_with_history() {
    let app = team_open(80, 24);
    snap("conversation_open", &app);
}

#[test]
fn conversation_open_wide_shows_the_whole_history() {
    let app = team_open(120, 40);
    snap("conversation_open_120x40", &app);
}

/// bob's chat: one sent, one still sending, one failed with the server's reason.
fn bob_with_sends(w: u16, h: u16) -> App {
    let mut app = sized(workspace(), w, h);
    app.open_conversation_id("c2c_bob");
    app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Latest,
        messages: vec![
            c2c(text("bob", NOW - 50 * MIN, 10, "dinner tonight?"), "bob"),
            c2c(
                text("alice", NOW - 35 * MIN, 11, "sure, see you at 8 then"),
                "bob",
            ),
        ],
        is_finished: true,
    });
    let mut sending = c2c(text("alice", NOW - MIN, 0, "on my way 🚲"), "bob");
    sending.msg_id.clear();
    sending.status = MessageStatus::Sending;
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "c2c_bob".into(),
        message: sending,
    });
    let mut big = c2c(text("alice", NOW, 0, "here is the whole log file …"), "bob");
    big.msg_id.clear();
    big.id = "id-big".into();
    big.status = MessageStatus::Sending;
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "c2c_bob".into(),
        message: big,
    });
    app.apply_result(EffectResult::SendFailed {
        conversation_id: "c2c_bob".into(),
        id: "id-big".into(),
        error: SdkError::new(80002, "message body too large"),
    });
    app
}

#[test]
fn sending_and_failed_messages() {
    let app = bob_with_sends(80, 24);
    snap("sending_and_failed", &app);
}

#[test]
fn failed_message_selected_offers_resend_in_the_help_bar() {
    let mut app = bob_with_sends(80, 24);
    update(&mut app, Action::FocusPrev); // composer → messages
    update(&mut app, Action::SelectPrev); // selects the newest (failed) message
    snap("failed_selected", &app);
}

#[test]
fn help_overlay_lists_every_binding() {
    let mut app = team_open(80, 24);
    update(&mut app, Action::Help);
    snap("help_overlay", &app);
    for _ in 0..30 {
        update(&mut app, Action::SelectNext);
    }
    snap("help_overlay_scrolled", &app);
    update(&mut app, Action::SelectLast);
    snap("help_overlay_end", &app);
}

#[test]
fn help_overlay_tall_terminal() {
    let mut app = sized(workspace(), 100, 60);
    update(&mut app, Action::Help);
    snap("help_overlay_100x60", &app);
}

#[test]
fn filter_active_latin_query() {
    let mut app = sized(workspace(), 80, 24);
    update(&mut app, Action::Filter);
    typing(&mut app, "tw");
    snap("filter_tw", &app);
}

#[test]
fn filter_active_cjk_query() {
    let mut app = sized(workspace(), 80, 24);
    update(&mut app, Action::Filter);
    typing(&mut app, "讨论");
    snap("filter_cjk", &app);
}

#[test]
fn filter_without_matches() {
    let mut app = sized(workspace(), 80, 24);
    update(&mut app, Action::Filter);
    typing(&mut app, "zzz");
    snap("filter_no_match", &app);
}

#[test]
fn narrow_40x12_list() {
    let app = sized(workspace(), 40, 12);
    snap("narrow_list", &app);
}

#[test]
fn narrow_40x12_conversation() {
    let app = team_open(40, 12);
    snap("narrow_conversation", &app);
}

#[test]
fn narrow_40x12_back_to_the_list_keeps_the_draft() {
    let mut app = team_open(40, 12);
    typing(&mut app, "half-written");
    key(&mut app, KeyCode::Esc);
    snap("narrow_back_to_list", &app);
}

#[test]
fn chinese_and_emoji_wrap_in_a_narrow_pane() {
    let mut app = sized(workspace(), 50, 16);
    app.open_conversation_id("c2c_echo");
    app.apply_result(EffectResult::History {
        conversation_id: "c2c_echo".into(),
        direction: HistoryDirection::Latest,
        messages: vec![
            c2c(
                text(
                    "echo",
                    NOW - 10 * MIN,
                    5,
                    "终端聊天也能优雅地显示中文：每一行都不会把汉字劈成两半，标点也不会出现在行首。",
                ),
                "echo",
            ),
            c2c(
                text("alice", NOW - 9 * MIN, 6, "🇨🇳🇯🇵🇰🇷 flags, 👩‍👩‍👧‍👦 families and e\u{301}accents stay whole 🎉🎉🎉"),
                "echo",
            ),
        ],
        is_finished: true,
    });
    typing(&mut app, "回复：好的👌，明天见！");
    snap("cjk_emoji_wrap", &app);
}

#[test]
fn custom_message_rendering() {
    let mut app = sized(workspace(), 80, 16);
    app.open_conversation_id("group_product");
    app.apply_result(EffectResult::History {
        conversation_id: "group_product".into(),
        direction: HistoryDirection::Latest,
        messages: vec![
            in_group(
                custom(
                    "carol",
                    NOW - 2 * HOUR,
                    31,
                    "{\"order\":77,\"items\":[\"键盘\",\"鼠标\"]}",
                    "订单已发货",
                    "logistics/v1",
                ),
                "product",
            ),
            in_group(
                custom("dave", NOW - HOUR, 32, "raw-bytes-without-desc", "", ""),
                "product",
            ),
        ],
        is_finished: false,
    });
    snap("custom_messages", &app);
}

#[test]
fn targeted_message_seen_by_a_receiver() {
    let mut app = sized(workspace(), 80, 14);
    app.open_conversation_id("group_team");
    let mut m = in_group(
        text("bob", NOW - 5 * MIN, 11, "only you two see this"),
        "team",
    );
    m.target_group_member_list = vec![
        "alice".into(),
        "carol".into(),
        "dave".into(),
        "erin".into(),
        "frank".into(),
    ];
    let mut online = in_group(
        text("carol", NOW - 4 * MIN, 0, "typing from my phone"),
        "team",
    );
    online.is_online_only = true;
    app.apply_result(EffectResult::History {
        conversation_id: "group_team".into(),
        direction: HistoryDirection::Latest,
        messages: vec![],
        is_finished: true,
    });
    app.apply_event(SdkEvent::NewMessage(m));
    app.apply_event(SdkEvent::NewMessage(online));
    snap("targeted_received", &app);
}

#[test]
fn scrolled_up_with_new_messages_below() {
    let mut app = team_open(80, 20);
    update(&mut app, Action::FocusPrev);
    update(&mut app, Action::PageUp);
    app.apply_event(SdkEvent::NewMessage(in_group(
        text("carol", NOW, 20, "anyone?"),
        "team",
    )));
    app.apply_event(SdkEvent::NewMessage(in_group(
        text("carol", NOW, 21, "hello?"),
        "team",
    )));
    snap("scrolled_up_new_below", &app);
}

#[test]
fn connection_states_in_the_status_bar() {
    let mut app = sized(workspace(), 80, 10);
    app.apply_event(SdkEvent::ConnectionChanged(ConnectionStatus::Disconnected));
    snap("status_disconnected", &app);
    app.apply_event(SdkEvent::ConnectionChanged(ConnectionStatus::Connected));
    snap("status_reconnected", &app);
}

#[test]
fn tiny_sizes() {
    for (w, h) in [(0, 0), (1, 1), (10, 5), (23, 8), (24, 7)] {
        let app = sized(team_open(80, 24), w, h);
        insta::assert_snapshot!(format!("tiny_{w}x{h}"), screen(&app));
    }
    // The smallest real layout.
    let app = team_open(24, 8);
    snap("tiny_24x8", &app);
}

#[test]
fn no_size_panics() {
    for open in [false, true] {
        let mut app = if open {
            team_open(80, 24)
        } else {
            sized(workspace(), 80, 24)
        };
        for w in 0..=70u16 {
            for h in 0..=26u16 {
                update(&mut app, Action::Resize(w, h));
                render(&app, w, h);
                update(&mut app, Action::Help);
                render(&app, w, h);
                update(&mut app, Action::Help);
                update(&mut app, Action::Filter);
                typing(&mut app, "产品");
                render(&app, w, h);
                key(&mut app, KeyCode::Esc);
                if open {
                    // Back to the conversation for the next size.
                    update(&mut app, Action::Compose);
                    assert!(app.open.is_some());
                }
            }
        }
    }
}

#[test]
fn the_terminal_cursor_follows_the_composer_cursor_over_wide_characters() {
    use ratatui::Terminal;
    use ratatui::backend::{Backend, TestBackend};
    use ratatui::layout::Position;
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_echo");
    typing(&mut app, "你好ab");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
    terminal
        .draw(|f| termim::tui::render(&app, f))
        .expect("draw");
    let composer = app.areas().composer.expect("composer shown");
    // Inside the border: 2 + 2 + 1 + 1 columns after the composer's left edge.
    let want = Position::new(composer.x + 1 + 6, composer.y + 1);
    assert_eq!(
        terminal
            .backend_mut()
            .get_cursor_position()
            .expect("cursor"),
        want
    );
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    terminal
        .draw(|f| termim::tui::render(&app, f))
        .expect("draw");
    assert_eq!(
        terminal
            .backend_mut()
            .get_cursor_position()
            .expect("cursor"),
        Position::new(composer.x + 1 + 2, composer.y + 1),
        "after 好: two columns in"
    );
}

#[test]
fn styles_carry_meaning_focus_selection_unread_and_badges() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::{Color, Modifier};
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    key(&mut app, KeyCode::Esc); // focus the list
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
    terminal
        .draw(|f| termim::tui::render(&app, f))
        .expect("draw");
    let buf = terminal.backend().buffer().clone();
    let theme = &app.theme;
    // The focused list has the accent border; the unfocused message pane does not.
    assert_eq!(buf[(0, 0)].fg, theme.accent.fg.unwrap_or(Color::Reset));
    assert_eq!(buf[(30, 0)].fg, theme.border.fg.unwrap_or(Color::Reset));
    // Row 3-4 is bob, the open (selected) conversation: selection background.
    assert_eq!(buf[(10, 3)].bg, theme.selection.bg.unwrap_or(Color::Reset));
    // Team Work (rows 1-2) has unread messages: its name is bold, its badge styled.
    assert!(
        buf[(3, 1)].modifier.contains(Modifier::BOLD),
        "unread name bold"
    );
    assert!(
        !buf[(3, 3)].modifier.contains(Modifier::BOLD),
        "read name plain"
    );
    assert_eq!(buf[(23, 2)].symbol(), "3");
    assert_eq!(buf[(23, 2)].bg, theme.badge.bg.unwrap_or(Color::Reset));
}
