//! Snapshots of the message search overlay: empty, Latin results across chats, a
//! Chinese query with its highlighted snippet, no matches, narrow 40×12 — and a sweep of
//! tiny sizes that must never panic. The clock is frozen (see `tui_support`); CI runs
//! with `INSTA_UPDATE=no`.

mod tui_support;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use termim::model::Message;
use termim::sdk::{MessageSearchResult, MessageSearchResultItem};
use termim::tui::effect::{Effect, EffectResult};
use termim::tui::{Action, App, update};
use tui_support::*;

fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(name, screen(app));
}

fn buffer(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("backend");
    terminal
        .draw(|f| termim::tui::render(app, f))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn item(conv: &str, count: u32, list: Vec<Message>) -> MessageSearchResultItem {
    MessageSearchResultItem {
        conversation_id: conv.into(),
        message_count: count,
        message_list: list,
    }
}

/// Type `query` into the open search; answer its last search with `items`.
fn search(app: &mut App, query: &str, items: Vec<MessageSearchResultItem>, total: u32) {
    let mut generation = None;
    for c in query.chars() {
        for e in key(app, KeyCode::Char(c)) {
            if let Effect::SearchMessages { generation: g, .. } = e {
                generation = Some(g);
            }
        }
    }
    app.apply_result(EffectResult::SearchResults {
        generation: generation.expect("a search was asked for"),
        result: Ok(MessageSearchResult {
            total_count: total,
            message_search_result_items: items,
        }),
    });
}

/// All chats, "release": two in Team Work, one with Bob, a custom message in 产品讨论组.
fn latin(app: &mut App) {
    let team = team_history();
    let bob = c2c(
        text(
            "bob",
            NOW - 3 * DAY,
            7,
            "The release notes are ready for review: https://example.org/notes",
        ),
        "bob",
    );
    let mut mine = team[1].clone();
    mine.sender = "alice".into();
    mine.is_self = true;
    mine.msg_id = "msg-alice-release".into();
    let product = in_group(
        custom(
            "carol",
            NOW - 5 * DAY,
            20,
            "{\"release\":\"v2.1\",\"notes\":true}",
            "版本 v2.1 已发布 (release)",
            "",
        ),
        "product",
    );
    ctrl(app, 'f');
    key(app, KeyCode::Tab);
    search(
        app,
        "release",
        vec![
            item("group_team", 2, vec![team[1].clone(), mine]),
            item("c2c_bob", 1, vec![bob]),
            item("group_product", 1, vec![product]),
        ],
        3,
    );
}

/// This chat (Team Work), "发布": carol's long Chinese message, matched past its start.
fn cjk(app: &mut App) {
    let team = team_history();
    ctrl(app, 'f');
    search(
        app,
        "发布",
        vec![item("group_team", 1, vec![team[4].clone()])],
        1,
    );
}

#[test]
fn search_empty() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    snap("search_empty", &app);
}

#[test]
fn search_latin_results() {
    let mut app = team_open(80, 24);
    latin(&mut app);
    snap("search_latin_results", &app);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    snap("search_latin_results_cursor", &app);
}

#[test]
fn search_cjk_query_highlights_the_match() {
    let mut app = team_open(80, 24);
    cjk(&mut app);
    snap("search_cjk_results", &app);
    // Both characters of the match carry the match style; their neighbours do not.
    let buf = buffer(&app);
    let matched = app.theme.matched;
    let mut styled = Vec::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if cell.modifier.contains(Modifier::UNDERLINED)
                && matched.add_modifier.contains(Modifier::UNDERLINED)
            {
                styled.push(cell.symbol().to_string());
            }
        }
    }
    assert_eq!(styled.concat(), "发布", "highlighted cells: {styled:?}");
}

#[test]
fn search_no_matches() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'f');
    search(&mut app, "xyzzy", Vec::new(), 0);
    snap("search_no_matches", &app);
}

#[test]
fn search_narrow() {
    let mut app = team_open(80, 24);
    latin(&mut app);
    let app = sized(app, 40, 12);
    snap("search_40x12", &app);
    let mut app = team_open(40, 12);
    cjk(&mut app);
    snap("search_cjk_40x12", &app);
}

/// The overlay at the smallest sizes: degraded, never a panic.
#[test]
fn search_at_tiny_sizes() {
    for fill in [latin as fn(&mut App), cjk, |app: &mut App| {
        ctrl(app, 'f');
    }] {
        let mut app = team_open(80, 24);
        fill(&mut app);
        assert!(app.overlay.is_some());
        for w in 0..=45u16 {
            for h in 0..=14u16 {
                update(&mut app, Action::Resize(w, h));
                render(&app, w, h);
                for a in [Action::SelectNext, Action::PageDown, Action::PageUp] {
                    update(&mut app, a);
                    render(&app, w, h);
                }
            }
        }
    }
}
