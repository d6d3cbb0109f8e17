//! Fixtures shared by the TUI tests: a frozen clock, a small workspace of
//! conversations and messages, and rendering to a `TestBackend`.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use termim::model::{
    Conversation, CustomElem, GroupTipsElem, Message, MessageStatus, TextElem, conversation_type,
    tips_type,
};
use termim::tui::effect::Effect;
use termim::tui::effect::{EffectResult, HistoryDirection};
use termim::tui::{App, Clock, ConnectionStatus, Keymap, SdkEvent, Theme, handle_key};

/// 2026-03-14 12:30:00 UTC, a Saturday; shown in UTC+8 (20:30).
pub const NOW: i64 = 1_773_491_400;
pub const OFFSET: i32 = 8 * 3600;
pub const MIN: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

pub fn app() -> App {
    let mut app = App::new(
        "alice",
        Keymap::default(),
        Theme::default(),
        Clock::new(NOW, OFFSET),
    );
    app.apply_event(SdkEvent::ConnectionChanged(ConnectionStatus::Connected));
    app.apply_event(SdkEvent::SyncFinished);
    app
}

pub fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| termim::tui::render(app, f))
        .expect("draw");
    if w == 0 {
        // TestBackend can't print a zero-width buffer; drawing into it is the test.
        return String::new();
    }
    terminal.backend().to_string()
}

/// Render at the app's own size.
pub fn screen(app: &App) -> String {
    render(app, app.size.0, app.size.1)
}

pub fn sized(mut app: App, w: u16, h: u16) -> App {
    termim::tui::update(&mut app, termim::tui::Action::Resize(w, h));
    app
}

fn base(sender: &str, ts: i64, seq: u64) -> Message {
    Message {
        msg_id: format!("msg-{sender}-{seq}"),
        id: format!("id-{sender}-{seq}"),
        timestamp: ts,
        sender: sender.to_string(),
        is_self: sender == "alice",
        status: MessageStatus::SendSucc,
        seq,
        ..Message::default()
    }
}

pub fn text(sender: &str, ts: i64, seq: u64, body: &str) -> Message {
    let mut m = base(sender, ts, seq);
    m.elem_type = termim::model::elem_type::TEXT;
    m.text_elem = Some(TextElem {
        text: body.to_string(),
    });
    m
}

pub fn in_group(mut m: Message, group: &str) -> Message {
    m.group_id = Some(group.to_string());
    m
}

pub fn c2c(mut m: Message, peer: &str) -> Message {
    if m.sender == "alice" {
        m.receiver = Some(peer.to_string());
    } else {
        m.receiver = Some("alice".to_string());
    }
    m.user_id = Some(peer.to_string());
    m
}

pub fn custom(sender: &str, ts: i64, seq: u64, data: &str, desc: &str, ext: &str) -> Message {
    let mut m = base(sender, ts, seq);
    m.elem_type = termim::model::elem_type::CUSTOM;
    m.custom_elem = Some(CustomElem {
        data: data.to_string(),
        desc: desc.to_string(),
        extension: ext.to_string(),
    });
    m
}

pub fn tips(group: &str, ts: i64, seq: u64, kind: u8, op: &str, members: &[&str]) -> Message {
    let mut m = base(op, ts, seq);
    m.elem_type = termim::model::elem_type::GROUP_TIPS;
    m.group_id = Some(group.to_string());
    m.is_self = false;
    m.group_tips_elem = Some(GroupTipsElem {
        group_id: group.to_string(),
        tips_type: kind,
        op_member: op.to_string(),
        member_list: members.iter().map(|s| s.to_string()).collect(),
        member_count: 0,
        member_change_info_list: Vec::new(),
    });
    m
}

pub fn group_conv(
    id: &str,
    name: &str,
    kind: &str,
    order: u64,
    last: Option<Message>,
) -> Conversation {
    Conversation {
        conversation_id: format!("group_{id}"),
        conv_type: conversation_type::GROUP,
        group_id: Some(id.to_string()),
        group_type: Some(kind.to_string()),
        show_name: name.to_string(),
        orderkey: order,
        last_message: last.map(Box::new),
        ..Conversation::default()
    }
}

pub fn c2c_conv(peer: &str, order: u64, last: Option<Message>) -> Conversation {
    Conversation {
        conversation_id: format!("c2c_{peer}"),
        conv_type: conversation_type::C2C,
        user_id: Some(peer.to_string()),
        show_name: peer.to_string(),
        orderkey: order,
        last_message: last.map(Box::new),
        ..Conversation::default()
    }
}

/// The Team Work group's history: yesterday and today, grouping, a targeted message,
/// a custom message, tips, CJK and emoji.
pub fn team_history() -> Vec<Message> {
    let g = |m| in_group(m, "team");
    let y = NOW - DAY;
    vec![
        tips(
            "team",
            y - 3 * HOUR,
            1,
            tips_type::INVITE,
            "alice",
            &["bob", "carol", "dave"],
        ),
        g(text(
            "bob",
            y - 2 * HOUR,
            2,
            "Morning all! Release checklist is in the wiki.",
        )),
        g(text(
            "bob",
            y - 2 * HOUR + MIN,
            3,
            "Please tick your items before Friday.",
        )),
        g(text("alice", y - HOUR, 4, "Done with mine 👍")),
        g(text(
            "carol",
            NOW - 3 * HOUR,
            5,
            "今天下午三点开会，讨论新版本的发布计划。请大家提前准备好各自负责部分的进度汇报，谢谢！🙏",
        )),
        {
            let mut m = g(text(
                "alice",
                NOW - 2 * HOUR,
                6,
                "bob, carol: the staging keys are in the vault",
            ));
            m.target_group_member_list = vec!["bob".into(), "carol".into()];
            m
        },
        g(custom(
            "dave",
            NOW - 90 * MIN,
            7,
            r#"{"build":1842,"status":"passed","url":"https://ci.example/1842"}"#,
            "CI build passed",
            "ci-v2",
        )),
        tips(
            "team",
            NOW - 80 * MIN,
            8,
            tips_type::JOIN,
            "erin",
            &["erin"],
        ),
        g(text(
            "bob",
            NOW - 18 * MIN,
            9,
            "👩‍💻 erin, welcome! 欢迎加入 🎉",
        )),
        g(text(
            "bob",
            NOW - 17 * MIN,
            10,
            "Ping me if you need access.",
        )),
    ]
}

/// A workspace with six conversations of every kind.
pub fn workspace() -> App {
    let mut app = app();
    let team = team_history();
    let mut team_conv = group_conv("team", "Team Work", "Work", 60, team.last().cloned());
    team_conv.is_pinned = true;
    team_conv.unread_count = 3;

    let bob_last = c2c(
        text("alice", NOW - 35 * MIN, 12, "see you at 8 then"),
        "bob",
    );
    let bob = c2c_conv("bob", 50, Some(bob_last));

    let mut product = group_conv(
        "product",
        "产品讨论组",
        "Public",
        40,
        Some(in_group(
            custom(
                "carol",
                NOW - 2 * HOUR,
                31,
                "{\"order\":77}",
                "订单已发货",
                "",
            ),
            "product",
        )),
    );
    product.unread_count = 12;

    let mut carol = c2c_conv(
        "carol",
        30,
        Some(c2c(
            text(
                "carol",
                NOW - DAY - 4 * HOUR,
                4,
                "Did you see the new designs?",
            ),
            "carol",
        )),
    );
    carol.draft_text = Some("Yes! Loved the colours".into());

    let mut echo = c2c_conv(
        "echo",
        20,
        Some(c2c(text("echo", NOW - 7 * DAY, 2, "echo: hello"), "echo")),
    );
    echo.show_name = "echo-bot".into();

    let mut standup = group_conv(
        "standup",
        "Daily standup",
        "Meeting",
        10,
        Some(tips(
            "standup",
            NOW - 400 * DAY,
            3,
            tips_type::JOIN,
            "dave",
            &["dave"],
        )),
    );
    standup.unread_count = 120;

    app.apply_result(EffectResult::Conversations {
        list: vec![standup, echo, carol, product, bob, team_conv],
        total_unread: Some(135),
    });
    app
}

/// `workspace()` with Team Work open and its history loaded.
pub fn team_open(w: u16, h: u16) -> App {
    let mut app = sized(workspace(), w, h);
    let _ = app.open_conversation_id("group_team");
    app.apply_result(EffectResult::History {
        conversation_id: "group_team".into(),
        direction: HistoryDirection::Latest,
        messages: team_history(),
        is_finished: true,
    });
    app
}

// ----- keys, as the composer tests press them ----------------------------------------

pub fn press(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    handle_key(app, KeyEvent::new(code, mods))
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    press(app, code, KeyModifiers::NONE)
}

pub fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

pub fn alt(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::ALT)
}

pub fn typing(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// A plain member of a group, offline, for the member picker.
pub fn member(id: &str) -> termim::model::GroupMemberFullInfo {
    termim::model::GroupMemberFullInfo {
        user_id: id.into(),
        nick_name: String::new(),
        name_card: String::new(),
        role: termim::model::role::MEMBER,
        join_time: 0,
        mute_until: 0,
        is_online: false,
    }
}
