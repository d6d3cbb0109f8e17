//! The reducer and event handling: keys through the keymap and focus chain, SDK
//! events, effect results, and the effects they ask for. No terminal, no SDK.

mod tui_support;

use crossterm::event::{Event, KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use termim::model::{MessageStatus, Priority};
use termim::tui::effect::{
    Effect, EffectResult, HistoryAnchor, HistoryDirection, Outgoing, OutgoingContent, SdkError,
};
use termim::tui::{Action, App, Focus, Keymap, Overlay, SdkEvent, handle_event, update};
use tui_support::*;

/// Typing in these tests must never ask for effects (the shared `typing` doesn't check).
fn typing(app: &mut App, s: &str) {
    for c in s.chars() {
        assert!(
            key(app, KeyCode::Char(c)).is_empty(),
            "typing {c:?} asked for effects"
        );
    }
}

fn ids(app: &App) -> Vec<&str> {
    app.conversations
        .iter()
        .map(|c| c.conversation_id.as_str())
        .collect()
}

fn unread(app: &App, id: &str) -> u64 {
    app.conversation(id).map_or(0, |c| c.unread_count)
}

fn history(conv: &str, messages: Vec<termim::model::Message>, finished: bool) -> EffectResult {
    EffectResult::History {
        conversation_id: conv.into(),
        direction: HistoryDirection::Latest,
        messages,
        is_finished: finished,
    }
}

// ----- opening, reading, drafts ----------------------------------------------------

#[test]
fn start_loads_the_conversation_list() {
    let mut app = app();
    assert_eq!(app.start(), vec![Effect::LoadConversations]);
}

#[test]
fn conversations_sort_pinned_first_then_by_activity() {
    let app = workspace();
    assert_eq!(
        ids(&app),
        vec![
            "group_team",
            "c2c_bob",
            "group_product",
            "c2c_carol",
            "c2c_echo",
            "group_standup"
        ]
    );
    assert_eq!(app.list_selected.as_deref(), Some("group_team"));
    assert_eq!(app.total_unread, 135);
}

#[test]
fn enter_opens_the_selected_conversation_loads_history_and_marks_it_read() {
    let mut app = sized(workspace(), 80, 24);
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![
            Effect::LoadHistory {
                conversation_id: "group_team".into(),
                direction: HistoryDirection::Latest,
                anchor: None,
                count: termim::tui::app::HISTORY_PAGE,
            },
            Effect::CleanUnread {
                conversation_id: "group_team".into()
            },
        ]
    );
    assert_eq!(app.open.as_deref(), Some("group_team"));
    assert_eq!(app.focus, Focus::Composer);
    assert_eq!(unread(&app, "group_team"), 0);
    assert_eq!(app.total_unread, 132);
}

#[test]
fn switching_conversations_keeps_each_draft() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    typing(&mut app, "draft for bob ✍");
    let effects = app.open_conversation_id("group_team");
    assert!(effects.contains(&Effect::SetDraft {
        conversation_id: "c2c_bob".into(),
        text: Some("draft for bob ✍".into()),
    }));
    assert_eq!(app.composer_text(), "", "team had no draft");
    assert_eq!(app.draft_of("c2c_bob"), Some("draft for bob ✍"));
    typing(&mut app, "团队草稿");
    app.open_conversation_id("c2c_bob");
    assert_eq!(app.composer_text(), "draft for bob ✍");
    assert_eq!(app.draft_of("group_team"), Some("团队草稿"));
    // Carol's draft came from the SDK and is restored into the composer.
    app.open_conversation_id("c2c_carol");
    assert_eq!(app.composer_text(), "Yes! Loved the colours");
}

#[test]
fn clearing_a_draft_tells_the_sdk_once() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_carol");
    for _ in 0.."Yes! Loved the colours".chars().count() {
        key(&mut app, KeyCode::Backspace);
    }
    let effects = app.open_conversation_id("c2c_bob");
    assert!(effects.contains(&Effect::SetDraft {
        conversation_id: "c2c_carol".into(),
        text: None,
    }));
    let effects = app.open_conversation_id("c2c_carol");
    let effects2 = app.open_conversation_id("c2c_bob");
    assert!(
        !effects
            .iter()
            .chain(&effects2)
            .any(|e| matches!(e, Effect::SetDraft { .. }))
    );
}

#[test]
fn quitting_saves_the_open_draft_first() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    typing(&mut app, "unfinished");
    let effects = press(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        effects,
        vec![
            Effect::SetDraft {
                conversation_id: "c2c_bob".into(),
                text: Some("unfinished".into())
            },
            Effect::Quit
        ]
    );
    assert!(app.should_quit);
}

// ----- keys and the focus chain ------------------------------------------------------

#[test]
fn typed_characters_are_text_in_the_composer_not_commands() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    typing(&mut app, "q?/jk 你好");
    assert_eq!(app.composer_text(), "q?/jk 你好");
    assert!(!app.should_quit);
    assert!(app.overlay.is_none());
    assert!(app.filter.is_none());
}

#[test]
fn q_quits_from_the_list_and_help_opens_from_anywhere_with_its_keys() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: 0 }));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.overlay.is_none(), "q closes help first");
    assert!(!app.should_quit);
    app.open_conversation_id("c2c_bob");
    key(&mut app, KeyCode::F(1));
    assert!(app.overlay.is_some(), "F1 opens help from the composer");
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
    assert_eq!(app.focus, Focus::Composer);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Focus::List);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn enter_sends_and_alt_enter_shift_enter_ctrl_j_insert_newlines() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    typing(&mut app, "line 1");
    press(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    typing(&mut app, "line 2");
    press(&mut app, KeyCode::Enter, KeyModifiers::SHIFT);
    typing(&mut app, "line 3");
    press(&mut app, KeyCode::Char('j'), KeyModifiers::CONTROL);
    typing(&mut app, "第四行");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Send(Outgoing {
            conversation_id: "c2c_bob".into(),
            content: OutgoingContent::Text("line 1\nline 2\nline 3\n第四行".into()),
            targets: vec![],
            options: Default::default(),
        })]
    );
    assert_eq!(app.composer_text(), "", "the composer is cleared");
}

#[test]
fn empty_or_blank_messages_are_not_sent() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    typing(&mut app, "   ");
    press(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
}

#[test]
fn an_oversized_message_is_refused_locally_and_kept() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    let big = "字".repeat(5000); // 15,000 bytes
    update(&mut app, Action::Paste(big.clone()));
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.composer_text(), big, "nothing is lost");
    let status = app.visible_status().expect("a notice");
    assert!(status.error);
    assert!(status.text.contains("15000 bytes"), "{}", status.text);
}

#[test]
fn send_carries_armed_targets_once_and_options_until_reset() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("group_team");
    let cs = app.compose.entry("group_team".into()).or_default();
    cs.targets = vec!["bob".into(), "carol".into()];
    cs.options.priority = Priority::High;
    cs.options.online_user_only = true;
    typing(&mut app, "for your eyes");
    let e = key(&mut app, KeyCode::Enter);
    let Some(Effect::Send(out)) = e.first() else {
        panic!("no send: {e:?}")
    };
    assert_eq!(out.targets, vec!["bob".to_string(), "carol".to_string()]);
    assert_eq!(out.options.priority, Priority::High);
    typing(&mut app, "again");
    let e = key(&mut app, KeyCode::Enter);
    let Some(Effect::Send(out)) = e.first() else {
        panic!("no send: {e:?}")
    };
    assert!(out.targets.is_empty(), "targets disarm after one send");
    assert!(out.options.online_user_only, "options persist");
    assert_eq!(out.options.summary(), "⚑high · online-only");
}

#[test]
fn paste_lands_in_the_composer_as_one_block() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Focus::List);
    let effects = handle_event(&mut app, Event::Paste("first\r\nsecond\nthird".into()));
    assert!(effects.is_empty(), "newlines in a paste never send");
    assert_eq!(app.focus, Focus::Composer);
    assert_eq!(app.composer_text(), "first\nsecond\nthird");
}

#[test]
fn tab_cycles_the_panes_and_shift_tab_goes_back() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        app.focus,
        Focus::List,
        "only the list without an open conversation"
    );
    app.open_conversation_id("c2c_bob");
    assert_eq!(app.focus, Focus::Composer);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::List);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Messages);
    press(&mut app, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(app.focus, Focus::List);
}

#[test]
fn list_navigation_follows_the_keymap_and_user_overrides() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.list_selected.as_deref(), Some("group_product"));
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.list_selected.as_deref(), Some("group_standup"));
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.list_selected.as_deref(), Some("group_team"));

    app.keymap = Keymap::from_toml_str("[list]\nselect_next = \"n\"\nquit = []").expect("valid");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        app.list_selected.as_deref(),
        Some("group_team"),
        "j was rebound away"
    );
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.list_selected.as_deref(), Some("c2c_bob"));
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit, "q unbound");
}

#[test]
fn next_unread_jumps_to_the_next_conversation_with_unread() {
    let mut app = sized(workspace(), 80, 24);
    let e = press(&mut app, KeyCode::Char('u'), KeyModifiers::ALT);
    assert_eq!(
        app.open.as_deref(),
        Some("group_product"),
        "after the selected team"
    );
    assert!(e.contains(&Effect::CleanUnread {
        conversation_id: "group_product".into()
    }));
    press(&mut app, KeyCode::Char('u'), KeyModifiers::ALT);
    assert_eq!(app.open.as_deref(), Some("group_standup"));
    press(&mut app, KeyCode::Char('u'), KeyModifiers::ALT);
    assert_eq!(app.open.as_deref(), Some("group_team"), "wraps around");
    press(&mut app, KeyCode::Char('u'), KeyModifiers::ALT);
    assert!(
        app.visible_status()
            .is_some_and(|s| s.text == "No unread messages")
    );
}

#[test]
fn pinning_resorts_and_asks_the_sdk() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('G'));
    let e = key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        e,
        vec![Effect::PinConversation {
            conversation_id: "group_standup".into(),
            pinned: true
        }]
    );
    assert_eq!(
        ids(&app)[1],
        "group_standup",
        "pinned conversations come first"
    );
    assert_eq!(
        app.list_selected.as_deref(),
        Some("group_standup"),
        "selection follows"
    );
}

// ----- filter -------------------------------------------------------------------------

#[test]
fn filter_is_fuzzy_cjk_aware_and_enter_opens_the_best_match() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('/'));
    assert!(app.filter.is_some());
    typing(&mut app, "EB");
    let names: Vec<&str> = app
        .list_rows()
        .into_iter()
        .map(|i| app.conversations[i].show_name.as_str())
        .collect();
    assert_eq!(names[0], "echo-bot");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typing(&mut app, "讨论");
    assert_eq!(app.list_len(), 1);
    key(&mut app, KeyCode::Enter);
    assert!(app.filter.is_none());
    assert_eq!(app.open.as_deref(), Some("group_product"));
}

#[test]
fn filter_esc_restores_the_list_and_matches_ids_too() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('/'));
    typing(&mut app, "standup");
    assert_eq!(app.list_len(), 1);
    key(&mut app, KeyCode::Esc);
    assert!(app.filter.is_none());
    assert_eq!(app.list_len(), 6);
    key(&mut app, KeyCode::Char('/'));
    typing(&mut app, "c2c_ech");
    assert_eq!(app.list_len(), 1, "the conversation id matches too");
}

// ----- SDK events -----------------------------------------------------------------------

/// What the SDK announces for one live message: `NewMessage`, then the conversation as
/// its cache now has it (one more unread when `counted`, the message last) and the total.
/// Unread counts are the SDK's; the TUI only shows them.
fn sdk_arrival(app: &mut App, m: termim::model::Message, counted: bool) -> Vec<Effect> {
    let id = m.conversation_id(&app.me);
    let mut effects = app.apply_event(SdkEvent::NewMessage(m.clone()));
    let mut conv = app
        .conversation(&id)
        .cloned()
        .unwrap_or_else(|| termim::model::Conversation {
            conversation_id: id.clone(),
            ..Default::default()
        });
    if counted {
        conv.unread_count += 1;
    }
    conv.last_message = Some(Box::new(m));
    conv.orderkey += 1_000_000;
    let total = app.total_unread + u64::from(counted);
    effects.extend(app.apply_event(SdkEvent::ConversationChanged(vec![conv])));
    effects.extend(app.apply_event(SdkEvent::TotalUnreadChanged(total)));
    effects
}

#[test]
fn a_new_message_alone_counts_nothing_the_sdk_did_not_count() {
    // A cold sync announces every message it brings; the server's list settles the
    // counts afterwards. Counting them here showed thousands of phantom unread.
    let mut app = sized(workspace(), 80, 24);
    let total = app.total_unread;
    for seq in 3..200 {
        let m = c2c(text("echo", NOW, seq, "echo: ping"), "echo");
        app.apply_event(SdkEvent::NewMessage(m));
    }
    assert_eq!(unread(&app, "c2c_echo"), 0);
    assert_eq!(app.total_unread, total);
    app.apply_event(SdkEvent::TotalUnreadChanged(7));
    assert_eq!(app.total_unread, 7, "the SDK's settled total is shown");
}

#[test]
fn a_new_message_elsewhere_raises_the_badge_and_moves_the_conversation_up() {
    let mut app = sized(workspace(), 80, 24);
    let m = c2c(text("echo", NOW, 3, "echo: ping"), "echo");
    let effects = sdk_arrival(&mut app, m, true);
    assert!(effects.is_empty());
    assert_eq!(unread(&app, "c2c_echo"), 1);
    assert_eq!(app.total_unread, 136);
    assert_eq!(
        ids(&app)[..2],
        ["group_team", "c2c_echo"],
        "pins stay first"
    );
}

#[test]
fn a_new_message_in_the_open_conversation_is_shown_and_marked_read() {
    let mut app = team_open(80, 24);
    let before = app.open_window().map(|w| w.messages.len()).unwrap_or(0);
    let m = in_group(text("carol", NOW, 11, "new!"), "team");
    let effects = sdk_arrival(&mut app, m, true);
    assert_eq!(
        app.open_window().map(|w| w.messages.len()),
        Some(before + 1)
    );
    // The opening clean is still in flight: no second call yet, but one after it.
    assert!(effects.is_empty());
    assert_eq!(unread(&app, "group_team"), 0);
    let again = app.apply_result(EffectResult::UnreadCleaned {
        conversation_id: "group_team".into(),
        error: None,
    });
    assert_eq!(
        again,
        vec![Effect::CleanUnread {
            conversation_id: "group_team".into()
        }]
    );
    app.apply_result(EffectResult::UnreadCleaned {
        conversation_id: "group_team".into(),
        error: None,
    });
    let m = in_group(text("carol", NOW, 12, "and another"), "team");
    assert_eq!(
        sdk_arrival(&mut app, m, true),
        vec![Effect::CleanUnread {
            conversation_id: "group_team".into()
        }]
    );
}

#[test]
fn an_unfocused_terminal_leaves_messages_unread_until_focus_returns() {
    let mut app = team_open(80, 24);
    app.apply_result(EffectResult::UnreadCleaned {
        conversation_id: "group_team".into(),
        error: None,
    });
    handle_event(&mut app, Event::FocusLost);
    let e = sdk_arrival(&mut app, in_group(text("bob", NOW, 11, "hi"), "team"), true);
    assert!(e.is_empty());
    assert_eq!(unread(&app, "group_team"), 1);
    let e = handle_event(&mut app, Event::FocusGained);
    assert_eq!(
        e,
        vec![Effect::CleanUnread {
            conversation_id: "group_team".into()
        }]
    );
    assert_eq!(unread(&app, "group_team"), 0);
}

#[test]
fn an_online_only_message_never_becomes_the_last_message() {
    let mut app = sized(workspace(), 80, 24);
    let before = app
        .conversation("group_product")
        .and_then(|c| c.last_message.as_deref())
        .map(|m| m.seq);
    let mut online = in_group(text("bob", NOW, 0, "typing…"), "product");
    online.is_online_only = true;
    app.apply_event(SdkEvent::NewMessage(online));
    let last = app
        .conversation("group_product")
        .and_then(|c| c.last_message.as_deref());
    assert_eq!(last.map(|m| m.seq), before);
    let own = in_group(text("alice", NOW, 22, "from my phone"), "product");
    app.apply_event(SdkEvent::NewMessage(own));
    let last = app
        .conversation("group_product")
        .and_then(|c| c.last_message.as_deref());
    assert_eq!(last.map(|m| m.seq), Some(22));
}

#[test]
fn a_message_for_an_unknown_conversation_creates_it_and_fetches_its_details() {
    let mut app = sized(workspace(), 80, 24);
    let e = sdk_arrival(&mut app, c2c(text("zoe", NOW, 1, "hi alice!"), "zoe"), true);
    assert_eq!(
        e,
        vec![Effect::FetchConversation {
            conversation_id: "c2c_zoe".into()
        }]
    );
    assert_eq!(unread(&app, "c2c_zoe"), 1);
    assert_eq!(ids(&app)[1], "c2c_zoe");
}

#[test]
fn conversation_changed_merges_and_keeps_the_selection_on_its_conversation() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.list_selected.as_deref(), Some("c2c_bob"));
    let mut echo = app.conversation("c2c_echo").cloned().expect("echo");
    echo.orderkey = 1000;
    echo.is_pinned = true;
    echo.show_name = "Echo Bot".into();
    app.apply_event(SdkEvent::ConversationChanged(vec![echo]));
    assert_eq!(ids(&app)[0], "c2c_echo", "pinned with the newest activity");
    assert_eq!(app.list_selected.as_deref(), Some("c2c_bob"));
    assert_eq!(
        app.conversation("c2c_echo").map(|c| c.show_name.as_str()),
        Some("Echo Bot")
    );
}

#[test]
fn conversation_deleted_closes_it_when_open() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_event(SdkEvent::ConversationDeleted(vec!["c2c_bob".into()]));
    assert!(app.open.is_none());
    assert!(app.conversation("c2c_bob").is_none());
    assert_eq!(app.focus, Focus::List);
}

#[test]
fn totals_connection_and_kick_events() {
    let mut app = sized(workspace(), 80, 24);
    app.apply_event(SdkEvent::TotalUnreadChanged(7));
    assert_eq!(app.total_unread, 7);
    app.apply_event(SdkEvent::KickedOffline);
    assert_eq!(app.connection, termim::tui::ConnectionStatus::LoggedOut);
    assert!(app.visible_status().is_some_and(|s| s.error));
}

// ----- sending lifecycle ------------------------------------------------------------------

#[test]
fn a_send_shows_sending_then_sent() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", vec![], true));
    let mut created = c2c(text("alice", 0, 0, "hello bob"), "bob");
    created.msg_id.clear();
    created.id = "local-1".into();
    created.status = MessageStatus::Sending;
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "c2c_bob".into(),
        message: created.clone(),
    });
    let w = app.open_window().expect("window");
    assert_eq!(w.messages.len(), 1);
    assert_eq!(w.messages[0].status, MessageStatus::Sending);
    assert_eq!(
        w.messages[0].timestamp, NOW,
        "a local time until the server's"
    );
    let mut sent = created;
    sent.msg_id = "srv-9".into();
    sent.seq = 13;
    sent.timestamp = NOW + 1;
    sent.status = MessageStatus::SendSucc;
    app.apply_event(SdkEvent::MessageUpdated(sent.clone()));
    app.apply_result(EffectResult::MessageSent {
        conversation_id: "c2c_bob".into(),
        message: sent,
    });
    let w = app.open_window().expect("window");
    assert_eq!(w.messages.len(), 1, "one message, updated in place");
    assert_eq!(w.messages[0].status, MessageStatus::SendSucc);
    assert_eq!(w.messages[0].msg_id, "srv-9");
    let last = app
        .conversation("c2c_bob")
        .and_then(|c| c.last_message.as_deref());
    assert_eq!(last.map(|m| m.msg_id.as_str()), Some("srv-9"));
}

#[test]
fn a_failed_send_shows_the_reason_and_can_be_resent() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", vec![], true));
    let mut created = c2c(text("alice", NOW, 0, "too big"), "bob");
    created.msg_id.clear();
    created.id = "local-2".into();
    created.status = MessageStatus::Sending;
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "c2c_bob".into(),
        message: created,
    });
    app.apply_result(EffectResult::SendFailed {
        conversation_id: "c2c_bob".into(),
        id: "local-2".into(),
        error: SdkError::new(80002, "message body too large"),
    });
    assert_eq!(app.send_errors.get("local-2").map(|e| e.code), Some(80002));
    assert_eq!(
        app.open_window().map(|w| w.messages[0].status),
        Some(MessageStatus::SendFail)
    );
    update(&mut app, Action::FocusPrev);
    assert_eq!(app.focus, Focus::Messages);
    key(&mut app, KeyCode::Char('k'));
    let e = key(&mut app, KeyCode::Char('r'));
    let [
        Effect::Resend {
            conversation_id,
            message,
        },
    ] = e.as_slice()
    else {
        panic!("no resend: {e:?}")
    };
    assert_eq!(conversation_id, "c2c_bob");
    assert_eq!(message.id, "local-2");
    assert!(app.send_errors.is_empty());
    assert_eq!(
        app.open_window().map(|w| w.messages[0].status),
        Some(MessageStatus::Sending)
    );
}

#[test]
fn a_failed_create_gives_the_text_back() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(EffectResult::CreateFailed {
        conversation_id: "c2c_bob".into(),
        content: OutgoingContent::Text("keep me".into()),
        targets: Vec::new(),
        error: SdkError::new(6014, "not logged in"),
    });
    assert_eq!(app.composer_text(), "keep me");
    assert!(
        app.visible_status()
            .is_some_and(|s| s.text.contains("6014"))
    );
}

#[test]
fn a_failed_targeted_create_gives_back_its_receivers_too() {
    // Sent again as given back, the text must still go only to the members chosen.
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("group_team");
    app.apply_result(EffectResult::CreateFailed {
        conversation_id: "group_team".into(),
        content: OutgoingContent::Text("only for bob".into()),
        targets: vec!["bob".into()],
        error: SdkError::new(6014, "not logged in"),
    });
    assert_eq!(app.composer_text(), "only for bob");
    assert_eq!(app.armed_targets("group_team"), ["bob".to_string()]);
}

// ----- history paging ----------------------------------------------------------------------

fn long_history(n: u64, from: u64) -> Vec<termim::model::Message> {
    (from..from + n)
        .map(|i| {
            c2c(
                text(
                    if i % 3 == 0 { "alice" } else { "bob" },
                    NOW - 10_000 + i as i64 * 30,
                    i,
                    &format!("message number {i}"),
                ),
                "bob",
            )
        })
        .collect()
}

#[test]
fn page_up_loads_older_history_from_the_first_message() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", long_history(30, 100), false));
    let mut asked = None;
    for _ in 0..20 {
        let e = key(&mut app, KeyCode::PageUp);
        if let Some(Effect::LoadHistory {
            direction, anchor, ..
        }) = e.first()
        {
            asked = Some((*direction, anchor.clone()));
            break;
        }
    }
    assert_eq!(
        asked,
        Some((
            HistoryDirection::Older,
            Some(HistoryAnchor {
                msg_id: "msg-bob-100".into(),
                seq: 100
            })
        ))
    );
    assert!(app.open_window().is_some_and(|w| w.loading_older));
    assert!(
        key(&mut app, KeyCode::PageUp).is_empty(),
        "one request at a time"
    );
    let top_before = app.open_window().and_then(|w| w.view.scroll);
    app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Older,
        messages: long_history(30, 70),
        is_finished: true,
    });
    let w = app.open_window().expect("window");
    assert_eq!(w.messages.len(), 60);
    assert!(!w.has_older && !w.loading_older);
    let after = w.view.scroll.expect("still scrolled");
    assert_eq!(
        after.index,
        top_before.expect("scrolled").index + 30,
        "the view did not jump"
    );
}

#[test]
fn a_first_page_shorter_than_the_screen_prefetches_older_history() {
    let mut app = sized(workspace(), 120, 60);
    app.open_conversation_id("c2c_bob");
    let e = app.apply_result(history("c2c_bob", long_history(5, 100), false));
    assert!(
        matches!(
            e.as_slice(),
            [Effect::LoadHistory {
                direction: HistoryDirection::Older,
                ..
            }]
        ),
        "{e:?}"
    );
    // A finished history asks for nothing more.
    let mut app = sized(workspace(), 120, 60);
    app.open_conversation_id("c2c_bob");
    assert!(
        app.apply_result(history("c2c_bob", long_history(5, 100), true))
            .is_empty()
    );
    // A page that fills several screens does not prefetch.
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    assert!(
        app.apply_result(history("c2c_bob", long_history(30, 100), false))
            .is_empty()
    );
}

#[test]
fn end_jumps_back_to_the_newest_and_follows() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", long_history(30, 100), true));
    key(&mut app, KeyCode::PageUp);
    assert!(app.open_window().is_some_and(|w| !w.view.is_following()));
    app.apply_event(SdkEvent::NewMessage(c2c(
        text("bob", NOW, 200, "new"),
        "bob",
    )));
    assert_eq!(app.open_window().map(|w| w.view.unseen_below), Some(1));
    key(&mut app, KeyCode::Esc); // composer → list
    key(&mut app, KeyCode::Tab); // → messages
    key(&mut app, KeyCode::End);
    let w = app.open_window().expect("window");
    assert!(w.view.is_following());
    assert_eq!(w.view.unseen_below, 0);
}

// ----- mouse -------------------------------------------------------------------------------

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn the_wheel_scrolls_the_pane_under_the_pointer_and_a_click_opens() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", long_history(30, 100), true));
    // Over the message pane (right of the 26-column list).
    handle_event(&mut app, mouse(MouseEventKind::ScrollUp, 50, 5));
    assert!(app.open_window().is_some_and(|w| !w.view.is_following()));
    handle_event(&mut app, mouse(MouseEventKind::ScrollDown, 50, 5));
    assert!(app.open_window().is_some_and(|w| w.view.is_following()));
    // Over the list: moves the selection.
    handle_event(&mut app, mouse(MouseEventKind::ScrollDown, 5, 5));
    assert_eq!(app.list_selected.as_deref(), Some("group_product"));
    // Click the fourth row pair (carol).
    let e = handle_event(
        &mut app,
        mouse(MouseEventKind::Down(MouseButton::Left), 5, 7),
    );
    assert_eq!(app.open.as_deref(), Some("c2c_carol"));
    assert!(e.iter().any(|x| matches!(x, Effect::LoadHistory { .. })));
}

// ----- robustness --------------------------------------------------------------------------

/// A tiny deterministic generator, so the test needs no extra crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize].clone()
    }
}

#[test]
fn random_input_never_panics_and_rendering_stays_in_bounds() {
    let codes = [
        KeyCode::Char('a'),
        KeyCode::Char('你'),
        KeyCode::Char('😀'),
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::Char('g'),
        KeyCode::Char('G'),
        KeyCode::Char('/'),
        KeyCode::Char('?'),
        KeyCode::Char('p'),
        KeyCode::Char('r'),
        KeyCode::Char('i'),
        KeyCode::Char('u'),
        KeyCode::Char(' '),
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ];
    let mods = [
        KeyModifiers::NONE,
        KeyModifiers::NONE,
        KeyModifiers::NONE,
        KeyModifiers::ALT,
        KeyModifiers::SHIFT,
        KeyModifiers::CONTROL,
    ];
    let sizes = [(80, 24), (40, 12), (24, 8), (63, 20), (120, 40), (10, 5)];
    let mut rng = Lcg(7);
    for round in 0..40 {
        let (w, h) = rng.pick(&sizes);
        let mut app = team_open(w, h);
        for step in 0..300 {
            let roll = rng.next() % 100;
            if roll < 80 {
                let code = rng.pick(&codes);
                let m = rng.pick(&mods);
                if code == KeyCode::Char('c') && m == KeyModifiers::CONTROL {
                    continue;
                }
                press(&mut app, code, m);
            } else if roll < 85 {
                handle_event(&mut app, Event::Paste("粘贴\n多行 text 🎉\r\n".into()));
            } else if roll < 90 {
                let (w, h) = rng.pick(&sizes);
                handle_event(&mut app, Event::Resize(w, h));
            } else if roll < 95 {
                let seq = 1000 + round * 1000 + step;
                let who = rng.pick(&["bob", "carol", "alice"]);
                let m = in_group(
                    text(
                        who,
                        NOW,
                        seq,
                        "新消息 new message 👋 that is long enough to wrap around",
                    ),
                    "team",
                );
                app.apply_event(SdkEvent::NewMessage(m));
            } else {
                let kind = rng.pick(&[
                    MouseEventKind::ScrollUp,
                    MouseEventKind::ScrollDown,
                    MouseEventKind::Down(MouseButton::Left),
                ]);
                let (c, r) = (
                    rng.next() as u16 % app.size.0.max(1),
                    rng.next() as u16 % app.size.1.max(1),
                );
                handle_event(&mut app, mouse(kind, c, r));
            }
            app.should_quit = false;
            if step % 25 == 0 {
                let screen = render(&app, app.size.0, app.size.1);
                // A wide character may only hide the blank cell it covers, never
                // something drawn there (a border, other text).
                for line in screen.lines() {
                    if let Some((_, hidden)) = line.split_once("Hidden by multi-width symbols: ") {
                        let overwritten = hidden
                            .split("), (")
                            .any(|h| !h.trim_end_matches([')', ']']).ends_with("\" \""));
                        assert!(!overwritten, "round {round} step {step}: {line}");
                    }
                }
            }
        }
    }
}

#[test]
fn an_online_only_send_never_becomes_the_last_message() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    app.apply_result(history("c2c_bob", vec![], true));
    app.compose
        .entry("c2c_bob".into())
        .or_default()
        .options
        .online_user_only = true;
    let mut created = c2c(text("alice", NOW, 0, "are you there?"), "bob");
    created.msg_id.clear();
    created.status = MessageStatus::Sending;
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "c2c_bob".into(),
        message: created,
    });
    let w = app.open_window().expect("window");
    assert!(w.messages[0].is_online_only, "shown, marked online-only");
    let last = app
        .conversation("c2c_bob")
        .and_then(|c| c.last_message.as_deref());
    assert_eq!(
        last.map(|m| m.seq),
        Some(12),
        "the last message is unchanged"
    );
}

#[test]
fn opening_with_unread_marks_where_reading_starts_and_follows_older_pages() {
    let mut app = sized(workspace(), 80, 24);
    // Team Work has 3 unread; the first page holds them all.
    app.open_conversation_id("group_team");
    app.apply_result(EffectResult::History {
        conversation_id: "group_team".into(),
        direction: HistoryDirection::Latest,
        messages: team_history(),
        is_finished: true,
    });
    let w = app.open_window().expect("window");
    assert_eq!(w.unread_mark.as_deref(), Some("msg-dave-7"));
    // Product has 12 unread but the first page has 2: the mark waits for older pages.
    app.open_conversation_id("group_product");
    assert_eq!(
        app.windows
            .get("group_team")
            .and_then(|w| w.unread_mark.clone()),
        None,
        "leaving a conversation clears its mark"
    );
    let page = |from: u64, n: u64| {
        (from..from + n)
            .map(|i| in_group(text("carol", NOW - 10_000 + i as i64, i, "msg"), "product"))
            .collect::<Vec<_>>()
    };
    app.apply_result(EffectResult::History {
        conversation_id: "group_product".into(),
        direction: HistoryDirection::Latest,
        messages: page(20, 2),
        is_finished: false,
    });
    assert_eq!(
        app.open_window()
            .and_then(|w| w.unread_mark.clone())
            .as_deref(),
        Some("msg-carol-20")
    );
    app.apply_result(EffectResult::History {
        conversation_id: "group_product".into(),
        direction: HistoryDirection::Older,
        messages: page(0, 20),
        is_finished: true,
    });
    let w = app.open_window().expect("window");
    assert_eq!(
        w.unread_mark.as_deref(),
        Some("msg-carol-10"),
        "12th newest"
    );
    assert_eq!(w.pending_unread, 0);
}
