//! The message search overlay's reducer: opening (Ctrl-F from any pane), what each
//! keystroke asks the SDK for, scope, latest-wins answers, and going to a result —
//! including one that is not loaded yet, which pages older history until it is.

mod tui_support;

use crossterm::event::KeyCode;
use termim::model::Message;
use termim::sdk::{KeywordListMatchType, MessageSearchResult, MessageSearchResultItem};
use termim::tui::effect::{Effect, EffectResult, HistoryAnchor, HistoryDirection, SdkError};
use termim::tui::overlay::search::{ALL_CONVERSATIONS, CONVERSATION_RESULTS, JUMP_PAGE, Scope};
use termim::tui::overlay::search::{SearchHit, SearchOverlay, SearchState};
use termim::tui::{Action, App, Focus, Overlay, update};
use tui_support::*;

fn overlay(app: &App) -> &SearchOverlay {
    match &app.overlay {
        Some(Overlay::Search(o)) => o,
        other => panic!("search overlay expected, found {other:?}"),
    }
}

/// The one search effect of a keystroke.
fn search_of(effects: &[Effect]) -> (u64, termim::sdk::MessageSearchParam) {
    let found: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::SearchMessages { generation, param } => Some((*generation, param.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "one search per change: {effects:?}");
    found.into_iter().next().expect("one")
}

fn item(conv: &str, count: u32, list: Vec<Message>) -> MessageSearchResultItem {
    MessageSearchResultItem {
        conversation_id: conv.into(),
        message_count: count,
        message_list: list,
    }
}

fn answer(app: &mut App, generation: u64, items: Vec<MessageSearchResultItem>, total: u32) {
    app.apply_result(EffectResult::SearchResults {
        generation,
        result: Ok(MessageSearchResult {
            total_count: total,
            message_search_result_items: items,
        }),
    });
}

/// Bob's one-to-one history: `n` messages, seq 1..=n, a minute apart.
fn bob_history(n: u64) -> Vec<Message> {
    (1..=n)
        .map(|s| {
            c2c(
                text(
                    "bob",
                    NOW - DAY + s as i64 * MIN,
                    s,
                    &format!("bob says {s}"),
                ),
                "bob",
            )
        })
        .collect()
}

#[test]
fn ctrl_f_opens_the_search_from_the_composer_the_list_and_the_messages() {
    let mut app = team_open(80, 24);
    assert_eq!(app.focus, Focus::Composer);
    assert!(ctrl(&mut app, 'f').is_empty(), "nothing is searched yet");
    let o = overlay(&app);
    assert_eq!(o.scope, Scope::Conversation);
    assert_eq!(o.conversation_id.as_deref(), Some("group_team"));
    assert_eq!(o.state, SearchState::Empty);
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
    assert_eq!(app.focus, Focus::Composer, "closing changes nothing else");

    update(&mut app, Action::FocusPrev);
    assert_eq!(app.focus, Focus::Messages);
    ctrl(&mut app, 'f');
    assert!(matches!(app.overlay, Some(Overlay::Search(_))));
    key(&mut app, KeyCode::Esc);

    // From the list with nothing open: all chats, and Tab has nothing to switch to.
    let mut app = sized(workspace(), 80, 24);
    ctrl(&mut app, 'f');
    assert_eq!(overlay(&app).scope, Scope::All);
    assert_eq!(overlay(&app).conversation_id, None);
    assert!(key(&mut app, KeyCode::Tab).is_empty());
    assert_eq!(overlay(&app).scope, Scope::All);
    assert!(overlay(&app).notice.is_some());
}

#[test]
fn each_change_of_the_query_asks_for_every_word_with_a_new_generation() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    let (g1, p) = search_of(&key(&mut app, KeyCode::Char('R')));
    assert_eq!(p.keyword_list, ["R"]);
    assert_eq!(p.keyword_list_match_type, KeywordListMatchType::And);
    assert_eq!(p.conversation_id.as_deref(), Some("group_team"));
    assert_eq!(p.page_size, CONVERSATION_RESULTS);
    assert_eq!(overlay(&app).state, SearchState::Searching);
    typing(&mut app, "el");
    let (g2, p) = search_of(&key(&mut app, KeyCode::Char(' ')));
    assert!(g2 > g1);
    assert_eq!(p.keyword_list, ["Rel"], "spaces separate words");
    let (_, p) = search_of(&typing_last(&mut app, "发布"));
    assert_eq!(p.keyword_list, ["Rel", "发布"]);
    // Keys that would break the line are not text here; Enter with no result does nothing.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(overlay(&app).query(), "Rel 发布");
    // Clearing the words clears the results and asks for nothing.
    for _ in 0..6 {
        key(&mut app, KeyCode::Backspace);
    }
    assert_eq!(overlay(&app).state, SearchState::Empty);
    // A paste is one line of words.
    let (_, p) = search_of(&update(&mut app, Action::Paste("ci\nbuild".into())));
    assert_eq!(p.keyword_list, ["ci", "build"]);
    // More than five words: the first five are searched, and the overlay says so.
    let (_, p) = search_of(&update(&mut app, Action::Paste(" a b c d".into())));
    assert_eq!(p.keyword_list.len(), 5);
    assert!(overlay(&app).notice.is_some());
}

/// Type `s`; the effects of its last character.
fn typing_last(app: &mut App, s: &str) -> Vec<Effect> {
    let mut last = Vec::new();
    for c in s.chars() {
        last = key(app, KeyCode::Char(c));
    }
    last
}

#[test]
fn tab_switches_to_all_chats_and_back_and_searches_again() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    typing(&mut app, "hello");
    let (_, p) = search_of(&key(&mut app, KeyCode::Tab));
    assert_eq!(overlay(&app).scope, Scope::All);
    assert_eq!(p.conversation_id, None);
    assert_eq!(p.page_size, ALL_CONVERSATIONS);
    assert!(p.messages_per_conversation > 0, "snippets for every chat");
    let (_, p) = search_of(&key(&mut app, KeyCode::Tab));
    assert_eq!(p.conversation_id.as_deref(), Some("group_team"));
}

#[test]
fn only_the_latest_search_is_shown() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    let (old, _) = search_of(&key(&mut app, KeyCode::Char('p')));
    let (new, _) = search_of(&key(&mut app, KeyCode::Char('l')));
    let team = team_history();
    answer(
        &mut app,
        new,
        vec![item("group_team", 1, vec![team[3].clone()])],
        1,
    );
    assert_eq!(overlay(&app).state, SearchState::Done);
    assert_eq!(overlay(&app).keywords, ["pl"]);
    // The older answer arrives late: ignored.
    answer(
        &mut app,
        old,
        vec![item("group_team", 2, team[1..3].to_vec())],
        2,
    );
    assert_eq!(overlay(&app).hits.len(), 1);
    assert_eq!(overlay(&app).total, 1);
    // A failure of the current search says so, and shows nothing stale.
    let (g, _) = search_of(&key(&mut app, KeyCode::Char('x')));
    app.apply_result(EffectResult::SearchResults {
        generation: g,
        result: Err(SdkError::new(6019, "local cache: disk I/O error")),
    });
    assert!(matches!(overlay(&app).state, SearchState::Failed(_)));
    assert!(overlay(&app).hits.is_empty());
}

#[test]
fn hits_are_listed_conversation_by_conversation_and_the_cursor_moves_over_them() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    key(&mut app, KeyCode::Tab);
    let (g, _) = search_of(&typing_last(&mut app, "s"));
    let team = team_history();
    let bob = bob_history(3);
    answer(
        &mut app,
        g,
        vec![
            item("group_team", 7, vec![team[9].clone(), team[6].clone()]),
            item("c2c_bob", 3, bob.iter().rev().cloned().collect()),
        ],
        2,
    );
    let o = overlay(&app);
    let rows: Vec<(&str, u64, u32)> = o
        .hits
        .iter()
        .map(|h: &SearchHit| {
            (
                h.conversation_id.as_str(),
                h.message.seq,
                h.conversation_matches,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("group_team", 10, 7),
            ("group_team", 7, 7),
            ("c2c_bob", 3, 3),
            ("c2c_bob", 2, 3),
            ("c2c_bob", 1, 3)
        ]
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(overlay(&app).cursor, 2);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(overlay(&app).cursor, 4, "stops at the last");
    key(&mut app, KeyCode::Up);
    assert_eq!(overlay(&app).current().map(|h| h.message.seq), Some(2));
}

#[test]
fn enter_opens_the_chat_with_the_message_selected_when_it_is_loaded() {
    let mut app = sized(workspace(), 80, 24);
    // Team Work's history is loaded (opened before), but the list is where we are.
    let _ = app.open_conversation_id("group_team");
    app.apply_result(EffectResult::History {
        conversation_id: "group_team".into(),
        direction: HistoryDirection::Latest,
        messages: team_history(),
        is_finished: true,
    });
    let _ = app.open_conversation_id("c2c_bob");
    app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Latest,
        messages: bob_history(5),
        is_finished: true,
    });
    ctrl(&mut app, 'f');
    key(&mut app, KeyCode::Tab);
    let (g, _) = search_of(&typing_last(&mut app, "release"));
    let team = team_history();
    answer(
        &mut app,
        g,
        vec![item("group_team", 1, vec![team[1].clone()])],
        1,
    );
    let effects = key(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none());
    assert_eq!(app.open.as_deref(), Some("group_team"));
    assert_eq!(
        app.focus,
        Focus::Messages,
        "so the selection can be acted on"
    );
    assert!(
        !effects.iter().any(|e| matches!(
            e,
            Effect::LoadHistory {
                direction: HistoryDirection::Latest,
                ..
            }
        )),
        "the window is kept: {effects:?}"
    );
    let w = app.open_window().expect("window");
    let sel = w.view.selected.expect("a message is selected");
    assert_eq!(w.messages[sel].msg_id, team[1].msg_id);
    assert_eq!(w.jump_to, None);
    // It is on screen.
    assert!(screen(&app).contains("Release checklist"));
}

#[test]
fn enter_on_a_message_not_loaded_pages_older_history_until_it_is_there() {
    let mut app = sized(workspace(), 80, 24);
    ctrl(&mut app, 'f');
    let (g, _) = search_of(&typing_last(&mut app, "says 3"));
    let all = bob_history(260);
    let target = all[2].clone();
    answer(
        &mut app,
        g,
        vec![item("c2c_bob", 1, vec![target.clone()])],
        1,
    );
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.open.as_deref(), Some("c2c_bob"));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::LoadHistory { conversation_id, direction: HistoryDirection::Latest, .. }
                if conversation_id == "c2c_bob"
        )),
        "{effects:?}"
    );
    // The newest page arrives: seq 231..=260. The target is older: next page.
    let effects = app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Latest,
        messages: all[230..].to_vec(),
        is_finished: false,
    });
    let first = &all[230];
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: "c2c_bob".into(),
            direction: HistoryDirection::Older,
            anchor: Some(HistoryAnchor {
                msg_id: first.msg_id.clone(),
                seq: first.seq
            }),
            count: JUMP_PAGE,
        }]
    );
    assert_eq!(app.open_window().and_then(|w| w.view.selected), None);
    // 31..=230: still not there.
    let effects = app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Older,
        messages: all[30..230].iter().rev().cloned().collect(),
        is_finished: false,
    });
    assert!(
        matches!(&effects[..], [Effect::LoadHistory { direction: HistoryDirection::Older, anchor: Some(a), .. }] if a.seq == 31),
        "{effects:?}"
    );
    // 1..=30: there.
    app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Older,
        messages: all[..30].iter().rev().cloned().collect(),
        is_finished: true,
    });
    let w = app.open_window().expect("window");
    let sel = w.view.selected.expect("selected");
    assert_eq!(w.messages[sel].msg_id, target.msg_id);
    assert_eq!(w.jump_to, None);
    let s = screen(&app);
    let shown = |n: u64| {
        let t = format!("bob says {n}");
        s.match_indices(&t)
            .any(|(i, _)| !s[i + t.len()..].starts_with(|c: char| c.is_ascii_digit()))
    };
    assert!(shown(3), "{s}");
    assert!(!shown(260), "scrolled up to it: {s}");
}

#[test]
fn a_message_gone_from_history_is_reported_not_waited_for() {
    let mut app = sized(workspace(), 80, 24);
    ctrl(&mut app, 'f');
    let (g, _) = search_of(&typing_last(&mut app, "gone"));
    let mut gone = c2c(text("bob", NOW - HOUR, 99, "gone"), "bob");
    gone.msg_id = "msg-deleted".into();
    answer(&mut app, g, vec![item("c2c_bob", 1, vec![gone])], 1);
    key(&mut app, KeyCode::Enter);
    let effects = app.apply_result(EffectResult::History {
        conversation_id: "c2c_bob".into(),
        direction: HistoryDirection::Latest,
        messages: bob_history(4),
        is_finished: true,
    });
    assert!(effects.is_empty(), "{effects:?}");
    let w = app.open_window().expect("window");
    assert_eq!(w.jump_to, None);
    assert_eq!(w.view.selected, None);
    assert!(
        app.visible_status()
            .is_some_and(|s| s.text.contains("no longer")),
        "{:?}",
        app.status
    );
}

#[test]
fn the_key_is_in_the_help_bar_and_the_help() {
    let mut app = team_open(120, 40);
    assert_eq!(
        app.keymap
            .hint(&[termim::tui::Context::Global], &Action::Search)
            .as_deref(),
        Some("^F")
    );
    update(&mut app, Action::Help);
    let s = screen(&app);
    assert!(
        s.contains("Search messages (this chat or all chats)"),
        "{s}"
    );
    key(&mut app, KeyCode::Esc);
    ctrl(&mut app, 'f');
    let s = screen(&app);
    assert!(s.contains("Search in Team Work"), "{s}");
    assert!(s.contains("Tab"), "the scope key is offered: {s}");
}
