//! Copying a message (`y` in the message pane and in message details, `Y` for the
//! msgID there): the reducer asks for `Effect::CopyToClipboard` with exactly the
//! message's text, or says why not; the notice fades at the next key or by the clock.
//! No terminal: the bytes are checked by the OSC 52 unit test and `tui_copy_pty.rs`.

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use termim::model::Message;
use termim::tui::clipboard::{COPIED_SECS, MAX_COPY_BYTES};
use termim::tui::effect::Effect;
use termim::tui::{Action, App, Focus, Overlay, SdkEvent, update};
use tui_support::*;

/// Chinese, emoji (one a ZWJ sequence), newlines, an empty line, trailing spaces.
const MULTILINE: &str = "第一行：发布计划 🎉\n第二行 👩‍💻 ok  \n\nlast line";

/// Team Work open at 80×24 with `extra` arrived last, the message pane focused.
fn team_with(extra: Option<Message>) -> App {
    let mut app = team_open(80, 24);
    if let Some(m) = extra {
        app.apply_event(SdkEvent::NewMessage(m));
    }
    press(&mut app, KeyCode::BackTab, KeyModifiers::NONE);
    assert_eq!(app.focus, Focus::Messages);
    app
}

/// Select the message `back` places above the newest (0: the newest).
fn select_back(app: &mut App, back: usize) {
    for _ in 0..=back {
        key(app, KeyCode::Char('k'));
    }
}

fn notice(app: &App) -> (String, bool) {
    let s = app.visible_status().expect("a notice");
    (s.text.clone(), s.error)
}

fn copied(text: &str) -> Vec<Effect> {
    vec![Effect::CopyToClipboard {
        text: text.to_string(),
    }]
}

#[test]
fn y_copies_a_text_message_exactly() {
    let m = in_group(text("carol", NOW - MIN, 11, MULTILINE), "team");
    let mut app = team_with(Some(m));
    select_back(&mut app, 0);
    let effects = key(&mut app, KeyCode::Char('y'));
    assert_eq!(effects, copied(MULTILINE));
    // 10 + a newline + 10 (👩‍💻 is one) + two newlines + 9.
    assert_eq!(notice(&app), ("Copied 32 characters".to_string(), false));
}

#[test]
fn y_copies_an_older_selected_message_not_the_newest() {
    let mut app = team_with(None);
    // The newest is bob's "Ping me…"; one above it his welcome.
    select_back(&mut app, 1);
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        copied("👩‍💻 erin, welcome! 欢迎加入 🎉")
    );
}

#[test]
fn y_copies_a_custom_messages_data_and_says_so() {
    let mut app = team_with(None);
    // Above the newest two and the join tip: dave's CI message.
    select_back(&mut app, 3);
    let data = r#"{"build":1842,"status":"passed","url":"https://ci.example/1842"}"#;
    assert_eq!(key(&mut app, KeyCode::Char('y')), copied(data));
    assert_eq!(
        notice(&app),
        (
            format!("Copied the custom data ({} characters)", data.len()),
            false
        )
    );
}

#[test]
fn y_copies_a_group_tip_as_the_pane_shows_it() {
    let mut app = team_with(None);
    // Above bob's two newest: the tip that erin joined.
    select_back(&mut app, 2);
    let effects = key(&mut app, KeyCode::Char('y'));
    let [Effect::CopyToClipboard { text }] = effects.as_slice() else {
        panic!("expected one copy, got {effects:?}");
    };
    // The sentence in the pane ("• <sentence>  hh:mm"), not a JSON of the tip.
    assert!(text.contains("erin"), "{text:?}");
    assert!(
        screen(&app).contains(text.as_str()),
        "{text:?} not on screen"
    );
    assert!(notice(&app).0.starts_with("Copied the group tip ("));
}

#[test]
fn nothing_selected_is_a_notice_not_a_copy() {
    let mut app = team_with(None);
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(
        notice(&app),
        ("Select a message to copy first (k)".to_string(), false)
    );
    // The help bar offers `y` only once something is selected.
    assert!(!screen(&app).contains("y copy"));
    select_back(&mut app, 0);
    assert!(screen(&app).contains("y copy"));
}

#[test]
fn over_the_cap_nothing_is_copied_and_the_notice_says_why() {
    // Exactly at the cap copies; a byte more refuses. (The server's 12 KB body limit
    // keeps real messages far below it; the cap guards what terminals accept.)
    let at_cap = "界".repeat(MAX_COPY_BYTES / 3) + &"a".repeat(MAX_COPY_BYTES % 3);
    assert_eq!(at_cap.len(), MAX_COPY_BYTES);
    let mut app = team_with(Some(in_group(text("bob", NOW - MIN, 11, &at_cap), "team")));
    select_back(&mut app, 0);
    assert_eq!(key(&mut app, KeyCode::Char('y')), copied(&at_cap));

    let over = at_cap + "!";
    let mut app = team_with(Some(in_group(text("bob", NOW - MIN, 11, &over), "team")));
    select_back(&mut app, 0);
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(
        notice(&app),
        (
            "Not copied: 101 KB is over the 100 KB terminals accept".to_string(),
            true
        )
    );
}

#[test]
fn disabled_in_config_nothing_is_copied_and_y_says_so() {
    let mut app = team_with(None);
    app.clipboard.osc52 = false;
    select_back(&mut app, 0);
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(
        notice(&app),
        ("Not copied: clipboard disabled in config".to_string(), true)
    );
}

#[test]
fn the_notice_fades_at_the_next_key() {
    let mut app = team_with(None);
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('y'));
    assert!(app.visible_status().is_some());
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.visible_status(), None);
}

#[test]
fn the_notice_fades_after_a_few_seconds_by_the_clock() {
    let mut app = team_with(None);
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('y'));
    update(&mut app, Action::Tick(NOW + COPIED_SECS));
    assert!(app.visible_status().is_some(), "still there at the limit");
    update(&mut app, Action::Tick(NOW + COPIED_SECS + 1));
    assert_eq!(app.visible_status(), None);
}

#[test]
fn other_notices_still_outlast_a_key() {
    // Only the brief copy notices fade at a key; errors stay to be read.
    let mut app = team_with(None);
    app.notify_error("Not sent: something");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(notice(&app), ("Not sent: something".to_string(), true));
}

#[test]
fn in_message_details_y_copies_the_text_and_shift_y_the_msg_id() {
    let mut app = team_with(None);
    select_back(&mut app, 1);
    key(&mut app, KeyCode::Char('v'));
    assert!(matches!(app.overlay, Some(Overlay::MessageDetails { .. })));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        copied("👩‍💻 erin, welcome! 欢迎加入 🎉")
    );
    assert!(
        matches!(app.overlay, Some(Overlay::MessageDetails { .. })),
        "the details stay open"
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('Y'), KeyModifiers::SHIFT),
        copied("msg-bob-9")
    );
    assert_eq!(
        notice(&app),
        ("Copied the msgID msg-bob-9".to_string(), false)
    );
}

#[test]
fn details_open_on_the_newest_message_copy_it() {
    // `v` with nothing selected shows the newest; `y` there copies that one.
    let mut app = team_with(None);
    key(&mut app, KeyCode::Char('v'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        copied("Ping me if you need access.")
    );
}

#[test]
fn an_unsent_message_has_no_msg_id_to_copy() {
    let mut m = in_group(text("alice", NOW - MIN, 0, "not yet"), "team");
    m.msg_id.clear();
    m.status = termim::model::MessageStatus::SendFail;
    let mut app = team_with(Some(m));
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('v'));
    let screen_text = screen(&app);
    assert!(!screen_text.contains("Y copy ID"), "{screen_text}");
    assert!(press(&mut app, KeyCode::Char('Y'), KeyModifiers::SHIFT).is_empty());
    assert_eq!(
        notice(&app),
        ("No msgID yet: the message is not sent".to_string(), true)
    );
    // Its text copies all the same.
    assert_eq!(key(&mut app, KeyCode::Char('y')), copied("not yet"));
}

#[test]
fn conversation_details_copy_nothing() {
    let mut app = workspace();
    key(&mut app, KeyCode::Char('v'));
    assert!(matches!(
        app.overlay,
        Some(Overlay::ConversationDetails { .. })
    ));
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(!screen(&app).contains("y copy"));
}

#[test]
fn y_is_text_in_the_composer() {
    let mut app = team_open(80, 24);
    assert_eq!(app.focus, Focus::Composer);
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(app.composer_text(), "y");
}

#[test]
fn the_copy_key_is_remappable() {
    let table: toml::Table = toml::from_str("[messages]\ncopy = [\"ctrl-y\"]\n").expect("toml");
    let keymap = termim::tui::Keymap::load(Some(&table)).expect("keymap");
    let mut app = team_with(None);
    app.keymap = keymap;
    select_back(&mut app, 0);
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(ctrl(&mut app, 'y'), copied("Ping me if you need access."));
    assert!(screen(&app).contains("^Y copy"));
}

// ----- snapshots ---------------------------------------------------------------------

#[test]
fn snapshot_copied_notice_80x24() {
    let m = in_group(text("carol", NOW - MIN, 11, MULTILINE), "team");
    let mut app = team_with(Some(m));
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('y'));
    insta::assert_snapshot!("copied_notice", screen(&app));
}

#[test]
fn snapshot_copy_refused_80x24() {
    let mut app = team_with(None);
    app.clipboard.osc52 = false;
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('y'));
    insta::assert_snapshot!("copy_disabled_notice", screen(&app));
}

#[test]
fn snapshot_message_details_copy_keys_80x24() {
    let mut app = team_with(None);
    select_back(&mut app, 0);
    key(&mut app, KeyCode::Char('v'));
    key(&mut app, KeyCode::Char('y'));
    insta::assert_snapshot!("message_details_copied", screen(&app));
}
