//! Behaviour a user reported as wrong (issue 9): what the status line says after a
//! targeted send, the composer after a resize, the help's words per context, the
//! first selection, how notices name groups, the size counter, and the composer's
//! readline keys. Reducer checks plus snapshots (frozen clock, see `tui_support`).

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use termim::model::GroupMemberInfoResult;
use termim::protocol::GroupEventPush;
use termim::tui::effect::{Effect, EffectResult, Outgoing};
use termim::tui::{Action, App, SdkEvent, update};
use tui_support::*;

const TEAM: &str = "group_team";

fn sends(effects: &[Effect]) -> Vec<&Outgoing> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(o) => Some(o),
            _ => None,
        })
        .collect()
}

fn status(app: &App) -> String {
    app.visible_status()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

/// The status bar row of the screen (second to last at 100×30).
fn status_row(app: &App) -> String {
    let screen = screen(app);
    let rows: Vec<&str> = screen.lines().collect();
    rows[rows.len() - 2].to_string()
}

// ----- 13: a targeted send disarms, and the status line says so -----------------------

#[test]
fn after_a_targeted_send_the_status_line_no_longer_claims_targeting() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 't');
    app.apply_result(EffectResult::Members {
        group_id: "team".into(),
        next_seq: "0".into(),
        result: Ok(GroupMemberInfoResult {
            next_seq: "0".into(),
            member_info_list: ["alice", "bob", "carol"].map(member).to_vec(),
        }),
    });
    typing(&mut app, "bob");
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(status(&app), "The next message goes only to 1 member");

    typing(&mut app, "for bob");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(sends(&effects)[0].targets, vec!["bob".to_string()]);
    let said = status_row(&app);
    assert!(!said.contains("goes only to"), "stale notice: {said}");
    assert!(said.contains("whole group"), "{said}");

    typing(&mut app, "for everyone");
    let effects = key(&mut app, KeyCode::Enter);
    let sent = sends(&effects);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].targets.is_empty(), "a plain group send");
    assert!(!status_row(&app).contains("only"), "{}", status_row(&app));
}

#[test]
fn disarming_by_other_means_also_drops_the_armed_notice() {
    let mut app = team_open(100, 30);
    app.compose.entry(TEAM.into()).or_default().targets = vec!["bob".into()];
    app.notify_armed(TEAM, "The next message goes only to 1 member");
    assert!(status_row(&app).contains("goes only to 1 member"));
    app.compose.entry(TEAM.into()).or_default().targets.clear();
    assert!(!status_row(&app).contains("goes only to"));
}

// ----- 14: the composer after a resize ---------------------------------------------------

#[test]
fn a_four_line_draft_is_whole_again_after_shrinking_and_growing_the_terminal() {
    let mut app = team_open(120, 36);
    for (i, line) in ["line one", "line two", "line three", "line four"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            press(&mut app, KeyCode::Enter, KeyModifiers::ALT);
        }
        typing(&mut app, line);
    }
    assert_eq!(
        app.composer_text(),
        "line one\nline two\nline three\nline four"
    );
    let before = screen(&app);
    update(&mut app, Action::Resize(40, 12));
    let narrow = screen(&app);
    assert!(
        narrow.contains("line four"),
        "the cursor's line shows:\n{narrow}"
    );
    update(&mut app, Action::Resize(120, 36));
    let after = screen(&app);
    for line in ["line one", "line two", "line three", "line four"] {
        assert!(
            after.contains(line),
            "{line} hidden after the resize:\n{after}"
        );
    }
    assert_eq!(after, before, "back where it started");
    insta::assert_snapshot!("composer_after_resize_40x12", narrow);
    insta::assert_snapshot!("composer_after_resize_back_120x36", after);
}

// ----- 15: help words per context --------------------------------------------------------

fn help_section(app: &App, title: &str) -> Vec<String> {
    let lines: Vec<String> = termim::tui::view::help::help_lines(app, 72)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    let start = lines
        .iter()
        .position(|l| l == title)
        .unwrap_or_else(|| panic!("no {title} section"));
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .cloned()
        .collect()
}

#[test]
fn the_search_help_describes_moving_through_results() {
    let app = workspace();
    let search = help_section(&app, "Message search").join("\n");
    assert!(search.contains("Select the next result"), "{search}");
    assert!(search.contains("Page up through the results"), "{search}");
    assert!(!search.contains("conversation"), "{search}");
    assert!(!search.contains("history"), "{search}");
}

// ----- 16: the first selection -----------------------------------------------------------

#[test]
fn first_start_selects_the_top_conversation_though_the_list_arrives_oldest_first() {
    let mut app = app();
    app.apply_result(EffectResult::Conversations {
        list: Vec::new(),
        total_unread: Some(0),
    });
    // Sync touches conversations oldest first; each one goes on top.
    for (peer, order) in [("erin", 1), ("dave", 2), ("carol", 3), ("bob", 4)] {
        app.apply_event(SdkEvent::ConversationChanged(vec![c2c_conv(
            peer, order, None,
        )]));
    }
    assert_eq!(app.conversations[0].conversation_id, "c2c_bob");
    assert_eq!(app.list_selected.as_deref(), Some("c2c_bob"));
    assert_eq!(app.selected_row(), Some(0));

    // Once the user moves, new arrivals keep their choice.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.list_selected.as_deref(), Some("c2c_carol"));
    app.apply_event(SdkEvent::ConversationChanged(vec![c2c_conv(
        "frank", 9, None,
    )]));
    assert_eq!(app.list_selected.as_deref(), Some("c2c_carol"));
}

// ----- 18: notices name groups by their names --------------------------------------------

fn group_event(group: &str, event: &str, op: &str, members: &[&str]) -> SdkEvent {
    SdkEvent::GroupEvent(GroupEventPush {
        group_id: group.into(),
        event: event.into(),
        op_user: op.into(),
        member_list: members.iter().map(|m| m.to_string()).collect(),
    })
}

#[test]
fn being_added_to_a_group_names_it_once_its_conversation_arrives() {
    let mut app = workspace();
    app.apply_event(group_event("gz", "invited", "bob", &["alice"]));
    assert!(!status(&app).contains("gz"), "{}", status(&app));
    app.apply_event(SdkEvent::NewConversation(vec![group_conv(
        "gz",
        "Team 工作组",
        "Work",
        99,
        None,
    )]));
    assert_eq!(status(&app), "bob added you to Team 工作组");

    app.apply_event(group_event("gz", "kicked", "bob", &["alice"]));
    assert_eq!(status(&app), "You were removed from Team 工作组 by bob");
}

#[test]
fn a_group_whose_name_never_comes_is_named_by_its_id_after_a_while() {
    let mut app = workspace();
    app.apply_event(group_event("gz", "invited", "bob", &["alice"]));
    update(&mut app, Action::Tick(NOW + 1));
    assert_eq!(status(&app), "");
    update(&mut app, Action::Tick(NOW + 30));
    assert_eq!(status(&app), "bob added you to gz");
}

// ----- 19: the size counter counts what the send counts ----------------------------------

#[test]
fn the_size_counter_and_the_refusal_agree() {
    let mut app = team_open(100, 30);
    let body = "x".repeat(14_998);
    update(&mut app, Action::Paste(format!("{body}\n\n")));
    let shown = screen(&app);
    assert!(shown.contains("14998 / 12288 bytes"), "{shown}");
    let effects = key(&mut app, KeyCode::Enter);
    assert!(sends(&effects).is_empty());
    assert!(status(&app).contains("14998 bytes"), "{}", status(&app));
}

#[test]
fn the_size_counter_includes_the_armed_cloud_custom_data() {
    let mut app = team_open(100, 30);
    app.compose
        .entry(TEAM.into())
        .or_default()
        .options
        .cloud_custom_data = Some("c".repeat(200));
    update(&mut app, Action::Paste("y".repeat(12_200)));
    assert!(screen(&app).contains("12400 / 12288 bytes"));
    let effects = key(&mut app, KeyCode::Enter);
    assert!(sends(&effects).is_empty(), "the SDK would refuse it");
    assert!(status(&app).contains("12400 bytes"), "{}", status(&app));
    assert_eq!(app.composer_text(), "y".repeat(12_200), "nothing was lost");
}

// ----- 20: readline keys in the composer, listed in the help ----------------------------

#[test]
fn the_composer_edits_like_readline() {
    let mut app = team_open(100, 30);
    typing(&mut app, "hello brave world");
    for _ in 0.."world".len() {
        key(&mut app, KeyCode::Left);
    }
    ctrl(&mut app, 'u');
    assert_eq!(
        app.composer_text(),
        "world",
        "Ctrl-U kills to the line start"
    );
    ctrl(&mut app, 'e');
    ctrl(&mut app, 'y');
    assert_eq!(
        app.composer_text(),
        "worldhello brave ",
        "Ctrl-Y yanks it back"
    );
    ctrl(&mut app, 'w');
    assert_eq!(app.composer_text(), "worldhello ", "Ctrl-W kills a word");
    ctrl(&mut app, 'a');
    alt(&mut app, 'f');
    ctrl(&mut app, 'k');
    assert_eq!(app.composer_text(), "worldhello", "Alt-F, then Ctrl-K");
    alt(&mut app, 'b');
    typing(&mut app, ">");
    assert_eq!(
        app.composer_text(),
        ">worldhello",
        "Alt-B moved back a word"
    );
    ctrl(&mut app, '_');
    assert_eq!(app.composer_text(), "worldhello", "Ctrl-_ undoes");
    alt(&mut app, 'r');
    assert_eq!(app.composer_text(), ">worldhello", "Alt-R redoes");
    press(&mut app, KeyCode::Char('7'), KeyModifiers::CONTROL);
    assert_eq!(
        app.composer_text(),
        "worldhello",
        "Ctrl-/ and Ctrl-7 arrive as Ctrl-7 and undo too"
    );
}

#[test]
fn the_help_lists_the_composer_editing_keys_from_the_keymap() {
    let app = workspace();
    let composer = help_section(&app, "Composer").join("\n");
    for (keys, what) in [
        ("^U", "Cut from the cursor to the start of the line"),
        ("^K", "Cut from the cursor to the end of the line"),
        ("^W", "Cut the word before the cursor"),
        ("^A", "Move to the start of the line"),
        ("^E", "Move to the end of the line"),
        ("Alt-b", "Move back one word"),
        ("Alt-f", "Move forward one word"),
        ("^Y", "Paste the text cut last"),
        ("^_", "Undo the last edit"),
    ] {
        assert!(
            composer
                .lines()
                .any(|l| l.contains(keys) && l.contains(what)),
            "{keys} {what} missing from:\n{composer}"
        );
    }
    // A rebinding shows in the help at once.
    let mut app = workspace();
    app.keymap = termim::tui::Keymap::from_toml_str("[composer]\nkill_to_start = [\"alt-k\"]\n")
        .expect("valid keymap");
    let composer = help_section(&app, "Composer").join("\n");
    assert!(
        composer
            .lines()
            .any(|l| l.contains("Alt-k") && l.contains("start of the line")),
        "{composer}"
    );
}
