//! The composer overlays' reducer: keys in, state and effects out (no terminal,
//! no server). Flows against a real server are in `tui_composer_flows.rs`.

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use termim::model::{
    ConversationOperationResult, GroupMemberInfoResult, OfflinePushInfo, Priority,
};
use termim::tui::action::Context;
use termim::tui::effect::{
    Effect, EffectResult, HistoryDirection, OutgoingContent, SdkError, SendOptions,
};
use termim::tui::overlay::conv_data::Stage;
use termim::tui::{Action, App, Focus, Keymap, Overlay, SdkEvent, update};
use tui_support::*;

fn page(next_seq: &str, asked: &str, ids: &[&str]) -> EffectResult {
    EffectResult::Members {
        group_id: "team".into(),
        next_seq: asked.into(),
        result: Ok(GroupMemberInfoResult {
            next_seq: next_seq.into(),
            member_info_list: ids.iter().map(|i| member(i)).collect(),
        }),
    }
}

fn picker(app: &App) -> &termim::tui::overlay::MemberPicker {
    match &app.overlay {
        Some(Overlay::Picker(p)) => p,
        other => panic!("the picker isn't open: {other:?}"),
    }
}

/// Team Work open with the picker showing bob, carol and dave.
fn picking() -> App {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 't');
    app.apply_result(page("0", "0", &["alice", "bob", "carol", "dave"]));
    app
}

fn targets(app: &App, id: &str) -> Vec<String> {
    app.compose
        .get(id)
        .map(|cs| cs.targets.clone())
        .unwrap_or_default()
}

fn sends(effects: &[Effect]) -> Vec<&termim::tui::effect::Outgoing> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(o) => Some(o),
            _ => None,
        })
        .collect()
}

// ----- the picker -----------------------------------------------------------------------

#[test]
fn the_picker_opens_only_where_targeted_messages_exist() {
    let mut app = sized(workspace(), 100, 30);
    app.open_conversation_id("c2c_bob");
    assert!(ctrl(&mut app, 't').is_empty());
    assert!(app.overlay.is_none(), "not in a one-to-one chat");
    assert!(
        app.visible_status()
            .is_some_and(|s| s.text.contains("one-to-one")),
        "{:?}",
        app.status
    );

    let mut app = sized(workspace(), 100, 30);
    let mut community = group_conv("hub", "Hub", "Community", 99, None);
    community.group_type = Some("Community".into());
    app.apply_event(SdkEvent::NewConversation(vec![community]));
    app.open_conversation_id("group_hub");
    assert!(ctrl(&mut app, 't').is_empty());
    assert!(app.overlay.is_none());
    let status = app.visible_status().expect("a notice");
    assert!(
        status.error && status.text.contains("Community"),
        "{status:?}"
    );

    let mut app = team_open(100, 30);
    assert_eq!(
        ctrl(&mut app, 't'),
        vec![Effect::LoadMembers {
            group_id: "team".into(),
            next_seq: "0".into(),
            count: 100,
        }]
    );
    assert!(picker(&app).loading.is_some());
}

#[test]
fn member_pages_load_until_the_last_and_stale_pages_are_ignored() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 't');
    // A page answering a request nobody made now changes nothing.
    assert!(app.apply_result(page("0", "77", &["zed"])).is_empty());
    assert!(picker(&app).members.is_empty());
    let next = app.apply_result(page("2", "0", &["alice", "bob"]));
    assert_eq!(
        next,
        vec![Effect::LoadMembers {
            group_id: "team".into(),
            next_seq: "2".into(),
            count: 100,
        }]
    );
    assert!(
        app.apply_result(page("0", "2", &["bob", "carol"]))
            .is_empty()
    );
    let ids: Vec<&str> = picker(&app)
        .members
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    assert_eq!(ids, vec!["bob", "carol"], "me left out, bob once");
    assert!(picker(&app).loading.is_none());
    // A page for a picker that was closed is dropped.
    key(&mut app, KeyCode::Esc);
    assert!(app.apply_result(page("5", "0", &["erin"])).is_empty());
}

#[test]
fn a_failed_member_load_is_kept_to_show() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 't');
    app.apply_result(EffectResult::Members {
        group_id: "team".into(),
        next_seq: "0".into(),
        result: Err(SdkError::new(10007, "not a member")),
    });
    assert_eq!(picker(&app).error.as_ref().map(|e| e.code), Some(10007));
}

#[test]
fn typed_keys_filter_the_members_instead_of_commanding() {
    let mut app = picking();
    typing(&mut app, "qj");
    assert!(!app.should_quit, "q is text here");
    assert_eq!(picker(&app).query, "qj");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typing(&mut app, "da");
    assert_eq!(picker(&app).matches.len(), 1);
    assert_eq!(
        picker(&app).current().map(|m| m.user_id.as_str()),
        Some("dave")
    );
    ctrl(&mut app, 'w');
    assert_eq!(picker(&app).query, "");
    assert_eq!(picker(&app).matches.len(), 3);
}

#[test]
fn done_arms_the_composer_and_the_next_send_consumes_it() {
    let mut app = picking();
    key(&mut app, KeyCode::Char(' ')); // bob
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' ')); // carol
    assert_eq!(picker(&app).selected, vec!["bob", "carol"]);
    key(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none());
    assert_eq!(app.focus, Focus::Composer);
    assert_eq!(targets(&app, "group_team"), vec!["bob", "carol"]);

    typing(&mut app, "just you two");
    let effects = key(&mut app, KeyCode::Enter);
    let out = sends(&effects);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].targets, vec!["bob", "carol"]);
    assert_eq!(out[0].content, OutgoingContent::Text("just you two".into()));
    assert!(
        targets(&app, "group_team").is_empty(),
        "one targeted send, then to everyone again"
    );
}

#[test]
fn the_picker_reopens_with_the_armed_receivers_and_esc_changes_nothing() {
    let mut app = picking();
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    ctrl(&mut app, 't');
    app.apply_result(page("0", "0", &["bob", "carol"]));
    assert_eq!(picker(&app).selected, vec!["bob"]);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        targets(&app, "group_team"),
        vec!["bob"],
        "Esc closes without a change"
    );
    // Done with nothing selected disarms.
    ctrl(&mut app, 't');
    app.apply_result(page("0", "0", &["bob"]));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert!(targets(&app, "group_team").is_empty());
}

#[test]
fn esc_in_the_composer_disarms_before_it_leaves() {
    let mut app = picking();
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.bar_label(&Action::Back, "back"),
        "to everyone",
        "the help bar says what Esc will do"
    );
    key(&mut app, KeyCode::Esc);
    assert!(targets(&app, "group_team").is_empty());
    assert_eq!(app.focus, Focus::Composer, "still writing");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Focus::List);
}

#[test]
fn select_all_selects_what_is_shown() {
    let mut app = picking();
    typing(&mut app, "a"); // carol, dave
    ctrl(&mut app, 'a');
    assert_eq!(picker(&app).selected, vec!["carol", "dave"]);
    ctrl(&mut app, 'a');
    assert!(picker(&app).selected.is_empty(), "again: unselected");
}

#[test]
fn pane_and_global_keys_wait_while_an_overlay_is_open() {
    let mut app = picking();
    let open = app.open.clone();
    alt(&mut app, 'u'); // next unread
    press(&mut app, KeyCode::Down, KeyModifiers::ALT); // next conversation
    key(&mut app, KeyCode::Tab); // next pane
    assert_eq!(app.open, open);
    assert!(matches!(app.overlay, Some(Overlay::Picker(_))));
    // Quitting still works.
    ctrl(&mut app, 'c');
    assert!(app.should_quit);
}

#[test]
fn help_opens_over_an_overlay_and_gives_it_back() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 't');
    typing(&mut app, "ca");
    press(&mut app, KeyCode::F(1), KeyModifiers::NONE);
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: 0 }));
    assert!(matches!(app.overlay_under, Some(Overlay::Picker(_))));
    assert_eq!(app.focus_chain()[0], Context::Help);
    // Keys that would leave the conversation wait; the help stays over the picker.
    key(&mut app, KeyCode::Char('/'));
    alt(&mut app, 'u');
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: 0 }));
    assert!(app.filter.is_none());
    // Members arriving meanwhile still reach the picker under the help.
    app.apply_result(page("0", "0", &["bob", "carol"]));
    key(&mut app, KeyCode::Esc);
    assert_eq!(picker(&app).query, "ca", "the picker is back as it was");
    assert_eq!(picker(&app).matches.len(), 1, "with the members that came");
    assert!(app.overlay_under.is_none());
}

#[test]
fn the_wheel_moves_the_member_cursor() {
    let mut app = picking();
    update(
        &mut app,
        Action::Scroll {
            column: 50,
            row: 15,
            up: false,
        },
    );
    assert_eq!(
        picker(&app).cursor,
        2,
        "three rows down, clamped to the last"
    );
}

// ----- the custom-message editor ---------------------------------------------------------

fn editor(app: &App) -> &termim::tui::overlay::CustomEditor {
    match &app.overlay {
        Some(Overlay::CustomMessage(e)) => e,
        other => panic!("the editor isn't open: {other:?}"),
    }
}

#[test]
fn a_custom_message_goes_out_as_create_custom_then_send_with_targets_and_options() {
    let mut app = picking();
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    app.compose
        .get_mut("group_team")
        .expect("compose state")
        .options
        .priority = Priority::High;
    alt(&mut app, 'c');
    typing(&mut app, "{\"k\":1}");
    key(&mut app, KeyCode::Enter); // a newline in the data
    typing(&mut app, "more");
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "标题");
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "ext");
    let effects = ctrl(&mut app, 's');
    assert_eq!(effects.len(), 1, "only the send: {effects:?}");
    let out = sends(&effects);
    assert_eq!(
        out[0].content,
        OutgoingContent::Custom {
            data: "{\"k\":1}\nmore".into(),
            desc: "标题".into(),
            extension: "ext".into(),
        }
    );
    assert_eq!(out[0].targets, vec!["bob"]);
    assert_eq!(out[0].options.priority, Priority::High);
    assert!(app.overlay.is_none());
    assert_eq!(app.focus, Focus::Composer);
    assert!(targets(&app, "group_team").is_empty());
    assert!(app.custom_drafts.is_empty(), "nothing left to keep");
}

#[test]
fn the_editor_refuses_no_data_and_more_than_12_kb_with_cloud_data() {
    let mut app = team_open(100, 30);
    alt(&mut app, 'c');
    assert!(ctrl(&mut app, 's').is_empty());
    assert!(
        editor(&app)
            .notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("data"))
    );
    key(&mut app, KeyCode::Esc);
    // 12 KB exactly is fine; the armed cloud data tips it over.
    app.compose
        .entry("group_team".into())
        .or_default()
        .options
        .cloud_custom_data = Some("c".into());
    alt(&mut app, 'c');
    update(&mut app, Action::Paste("x".repeat(12 * 1024)));
    assert!(ctrl(&mut app, 's').is_empty());
    assert!(
        editor(&app)
            .notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("1 B over")),
        "{:?}",
        editor(&app).notice
    );
    app.compose
        .get_mut("group_team")
        .expect("state")
        .options
        .cloud_custom_data = None;
    assert_eq!(sends(&ctrl(&mut app, 's')).len(), 1);
}

#[test]
fn what_is_written_survives_closing_and_a_failed_create() {
    let mut app = team_open(100, 30);
    alt(&mut app, 'c');
    typing(&mut app, "draft data");
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "d");
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
    alt(&mut app, 'c');
    assert_eq!(editor(&app).text(0), "draft data");
    assert_eq!(editor(&app).text(1), "d");
    assert_eq!(editor(&app).focus, 1, "where I was");
    ctrl(&mut app, 's');
    // Creating it failed: it comes back for another try.
    app.apply_result(EffectResult::CreateFailed {
        conversation_id: "group_team".into(),
        content: OutgoingContent::Custom {
            data: "draft data".into(),
            desc: "d".into(),
            extension: String::new(),
        },
        targets: Vec::new(),
        error: SdkError::new(6017, "invalid"),
    });
    alt(&mut app, 'c');
    assert_eq!(editor(&app).text(0), "draft data");
}

#[test]
fn the_json_check_is_a_toggle() {
    let mut app = team_open(100, 30);
    alt(&mut app, 'c');
    assert!(!editor(&app).check_json);
    alt(&mut app, 'j');
    assert!(editor(&app).check_json);
    press(&mut app, KeyCode::F(2), KeyModifiers::NONE);
    assert!(!editor(&app).check_json);
    // Invalid JSON is still sent.
    typing(&mut app, "{oops");
    alt(&mut app, 'j');
    assert_eq!(sends(&ctrl(&mut app, 's')).len(), 1);
}

// ----- send options ---------------------------------------------------------------------

fn panel(app: &App) -> &termim::tui::overlay::SendOptionsPanel {
    match &app.overlay {
        Some(Overlay::SendOptions(p)) => p,
        other => panic!("the panel isn't open: {other:?}"),
    }
}

#[test]
fn options_apply_per_conversation_until_reset() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 'o');
    key(&mut app, KeyCode::Right); // normal → low
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' ')); // online only
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' ')); // read receipt
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down); // cloud
    typing(&mut app, "a b"); // Space is text on a text row
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    typing(&mut app, "X"); // arrows move in the field
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    typing(&mut app, "push text");
    assert_eq!(
        panel(&app).values.priority,
        Priority::Low,
        "not changed by ←"
    );
    key(&mut app, KeyCode::Enter);
    let o = app.compose["group_team"].options.clone();
    assert_eq!(o.priority, Priority::Low);
    assert!(o.online_user_only && o.need_read_receipt);
    assert_eq!(o.cloud_custom_data.as_deref(), Some("aX b"));
    assert_eq!(
        o.offline_push_info,
        Some(OfflinePushInfo {
            desc: "push text".into(),
            ..OfflinePushInfo::default()
        })
    );
    assert_eq!(
        o.summary(),
        "⚑low · online-only · receipt · cloud:✓ · push:✓"
    );
    // Sends use them; other conversations don't.
    typing(&mut app, "hi");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(sends(&effects)[0].options, o);
    assert_eq!(
        app.compose["group_team"].options, o,
        "options persist after a send"
    );
    app.open_conversation_id("c2c_bob");
    typing(&mut app, "hey");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(sends(&effects)[0].options, SendOptions::default());
    // Reset, then apply: defaults again.
    app.open_conversation_id("group_team");
    ctrl(&mut app, 'o');
    assert_eq!(
        panel(&app).options(),
        o,
        "the panel starts from what is armed"
    );
    ctrl(&mut app, 'r');
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.compose["group_team"].options, SendOptions::default());
}

#[test]
fn esc_discards_the_panels_changes() {
    let mut app = team_open(100, 30);
    ctrl(&mut app, 'o');
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
    assert_eq!(
        app.compose
            .get("group_team")
            .map(|cs| cs.options.clone())
            .unwrap_or_default(),
        SendOptions::default()
    );
}

#[test]
fn read_receipts_stay_off_in_one_to_one_chats() {
    let mut app = sized(workspace(), 100, 30);
    app.open_conversation_id("c2c_bob");
    ctrl(&mut app, 'o');
    for _ in 0..4 {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Right);
    assert!(!panel(&app).flag(termim::tui::overlay::send_options::Row::ReadReceipt));
    assert!(panel(&app).notice.as_ref().is_some_and(|n| n.error));
    key(&mut app, KeyCode::Enter);
    assert!(!app.compose["c2c_bob"].options.need_read_receipt);
}

#[test]
fn a_sending_message_shows_the_options_it_carries() {
    let mut app = team_open(100, 30);
    app.compose.entry("group_team".into()).or_default().options = SendOptions {
        online_user_only: true,
        ..SendOptions::default()
    };
    let mut m = in_group(text("alice", NOW, 0, "psst"), "team");
    m.msg_id.clear();
    m.id = "c-1".into();
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "group_team".into(),
        message: m,
    });
    let w = app.windows.get("group_team").expect("window");
    assert!(w.messages.last().is_some_and(|m| m.is_online_only));
}

// ----- conversation custom data -----------------------------------------------------------

fn data_editor(app: &App) -> &termim::tui::overlay::ConversationDataEditor {
    match &app.overlay {
        Some(Overlay::ConversationData(e)) => e,
        other => panic!("the editor isn't open: {other:?}"),
    }
}

fn op(id: &str, code: i32) -> ConversationOperationResult {
    ConversationOperationResult {
        conversation_id: id.into(),
        result_code: code,
        result_info: if code == 0 {
            String::new()
        } else {
            "nope".into()
        },
    }
}

#[test]
fn space_marks_and_esc_unmarks() {
    let mut app = sized(workspace(), 100, 30);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.marked, vec!["group_team", "c2c_bob"]);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.marked, vec!["group_team"], "Space again unmarks");
    assert!(app.available(&Action::Back));
    key(&mut app, KeyCode::Esc);
    assert!(app.marked.is_empty());
    assert!(!app.available(&Action::Back));
}

#[test]
fn custom_data_goes_to_the_marked_conversations_and_results_come_back_per_item() {
    let mut app = sized(workspace(), 100, 30);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(
        data_editor(&app).conversation_ids,
        vec!["group_team", "c2c_bob"]
    );
    typing(&mut app, "v1 版本");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::SetConversationData {
            conversation_ids: vec!["group_team".into(), "c2c_bob".into()],
            data: "v1 版本".into(),
        }]
    );
    assert!(data_editor(&app).saving());
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "not twice while saving"
    );
    app.apply_result(EffectResult::ConversationDataSet {
        conversation_ids: vec!["group_team".into(), "c2c_bob".into()],
        data: "v1 版本".into(),
        result: Ok(vec![op("group_team", 0), op("c2c_bob", 51008)]),
    });
    let e = data_editor(&app);
    assert_eq!(e.result_of("group_team"), Some(Ok(())));
    assert!(e.result_of("c2c_bob").is_some_and(|r| r.is_err()));
    assert_eq!(
        app.conversation("group_team")
            .map(|c| c.custom_data.as_str()),
        Some("v1 版本")
    );
    assert_eq!(
        app.conversation("c2c_bob").map(|c| c.custom_data.as_str()),
        Some("")
    );
    assert_eq!(app.marked, vec!["c2c_bob"], "the failed one stays marked");
    // Enter tries again (for all listed).
    assert_eq!(key(&mut app, KeyCode::Enter).len(), 1);
}

#[test]
fn custom_data_over_256_bytes_is_not_sent_and_a_refused_request_shows() {
    let mut app = sized(workspace(), 100, 30);
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(data_editor(&app).conversation_ids, vec!["group_team"]);
    update(&mut app, Action::Paste("é".repeat(129))); // 258 bytes
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(
        data_editor(&app)
            .notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("258 B"))
    );
    key(&mut app, KeyCode::Backspace);
    assert_eq!(key(&mut app, KeyCode::Enter).len(), 1);
    app.apply_result(EffectResult::ConversationDataSet {
        conversation_ids: vec!["group_team".into()],
        data: "é".repeat(128),
        result: Err(SdkError::new(9508, "not connected")),
    });
    assert!(matches!(data_editor(&app).stage, Stage::Done(Err(_))));
    assert!(app.visible_status().is_some_and(|s| s.error));
}

#[test]
fn the_editor_starts_from_the_shared_current_value() {
    let mut app = sized(workspace(), 100, 30);
    let mut team = app.conversation("group_team").cloned().expect("team");
    team.custom_data = "same".into();
    let mut bob = app.conversation("c2c_bob").cloned().expect("bob");
    bob.custom_data = "same".into();
    app.apply_event(SdkEvent::ConversationChanged(vec![team, bob]));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(data_editor(&app).text(), "same");
}

// ----- details and expanding -------------------------------------------------------------

#[test]
fn message_details_open_on_the_selection_or_the_newest() {
    let mut app = team_open(100, 30);
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Char('v'));
    match &app.overlay {
        Some(Overlay::MessageDetails { key, .. }) => assert_eq!(key, "msg-bob-10"),
        other => panic!("{other:?}"),
    }
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        app.open_window().and_then(|w| w.view.selected),
        Some(9),
        "details selected the message they showed"
    );
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Char('v'));
    match &app.overlay {
        Some(Overlay::MessageDetails { key, .. }) => assert_eq!(key, "msg-bob-9"),
        other => panic!("{other:?}"),
    }
    // Scrolling stops at the end.
    for _ in 0..100 {
        key(&mut app, KeyCode::Char('j'));
    }
    let Some(Overlay::MessageDetails { scroll, .. }) = app.overlay.clone() else {
        unreachable!()
    };
    key(&mut app, KeyCode::Char('k'));
    match &app.overlay {
        Some(Overlay::MessageDetails { scroll: s, .. }) => {
            assert_eq!(*s, scroll.saturating_sub(1), "one up from the end")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn conversation_details_lead_to_its_custom_data() {
    let mut app = sized(workspace(), 100, 30);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('v'));
    assert_eq!(
        app.overlay,
        Some(Overlay::ConversationDetails {
            conversation_id: "c2c_bob".into(),
            scroll: 0
        })
    );
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(data_editor(&app).conversation_ids, vec!["c2c_bob"]);
}

#[test]
fn expanding_custom_messages() {
    let mut app = team_open(100, 30);
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Char('e'));
    assert!(
        app.expand_all.contains("group_team"),
        "nothing selected: all"
    );
    key(&mut app, KeyCode::Char('e'));
    assert!(app.expand_all.is_empty());
    for _ in 0..4 {
        key(&mut app, KeyCode::Up); // dave's custom message
    }
    key(&mut app, KeyCode::Char('e'));
    assert!(app.expanded.contains("msg-dave-7"));
    key(&mut app, KeyCode::Up); // a text message
    key(&mut app, KeyCode::Char('e'));
    assert!(
        app.visible_status()
            .is_some_and(|s| s.text.contains("Only custom"))
    );
}

#[test]
fn a_history_page_keeps_details_on_the_same_message() {
    let mut app = team_open(100, 30);
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Char('v'));
    app.apply_result(EffectResult::History {
        conversation_id: "group_team".into(),
        direction: HistoryDirection::Older,
        messages: vec![in_group(text("bob", NOW - 9 * DAY, 0, "ancient"), "team")],
        is_finished: true,
    });
    let s = screen(&app);
    assert!(s.contains("msg-bob-10"), "{s}");
}

// ----- keys are data ---------------------------------------------------------------------

#[test]
fn every_composer_action_has_a_default_key_and_a_help_entry() {
    let km = Keymap::default();
    for (ctx, action) in [
        (Context::Composer, Action::PickTargets),
        (Context::Composer, Action::CustomMessage),
        (Context::Composer, Action::SendOptions),
        (Context::Messages, Action::Details),
        (Context::Messages, Action::Expand),
        (Context::List, Action::Toggle),
        (Context::List, Action::ConversationData),
        (Context::List, Action::Details),
        (Context::Picker, Action::Toggle),
        (Context::Picker, Action::SelectAll),
        (Context::Picker, Action::Confirm),
        (Context::CustomMessage, Action::Send),
        (Context::CustomMessage, Action::NextField),
        (Context::CustomMessage, Action::ValidateJson),
        (Context::SendOptions, Action::Reset),
        (Context::SendOptions, Action::NextValue),
        (Context::ConversationData, Action::Confirm),
        (Context::Details, Action::Back),
    ] {
        assert!(
            !km.keys(ctx, &action).is_empty(),
            "{} has no key in {}",
            action.name(),
            ctx.name()
        );
    }
    let app = sized(workspace(), 100, 30);
    let help: Vec<String> = termim::tui::view::help::help_lines(&app, 80)
        .iter()
        .map(|l| l.to_string())
        .collect();
    for title in [
        "Targeted-member picker",
        "Custom-message editor",
        "Send options",
        "Conversation custom data",
        "Details",
    ] {
        assert!(help.iter().any(|l| l == title), "help lacks {title}");
    }
}

#[test]
fn a_user_keymap_moves_the_picker_key_and_the_bar_follows() {
    let km = Keymap::from_toml_str("[composer]\npick_targets = \"ctrl-g\"\n").expect("valid");
    let mut app = App::new("alice", km, termim::tui::Theme::default(), app().clock);
    app.apply_result(EffectResult::Conversations {
        list: vec![group_conv("team", "Team Work", "Work", 1, None)],
        total_unread: Some(0),
    });
    app = sized(app, 100, 30);
    app.open_conversation_id("group_team");
    assert!(ctrl(&mut app, 't').is_empty(), "^T no longer opens it");
    assert_eq!(ctrl(&mut app, 'g').len(), 1);
    assert!(matches!(app.overlay, Some(Overlay::Picker(_))));
    let bar = app
        .keymap
        .help_bar(&[Context::Composer, Context::Global])
        .into_iter()
        .map(|i| i.keys)
        .collect::<Vec<_>>();
    assert!(bar.contains(&"^G".to_string()), "{bar:?}");
}
