//! Snapshots of the composer-power overlays (issue 4): the targeted-member picker,
//! the custom-message editor, the send-options panel, the conversation custom-data
//! editor and the details views — open, filtered, with a selection, with an
//! error, at 80×24 and narrow 40×12 — plus how custom messages render. The clock
//! is frozen (see `tui_support`); CI runs with `INSTA_UPDATE=no`.

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use termim::model::{
    ConversationOperationResult, GroupMemberFullInfo, GroupMemberInfoResult, MessageStatus,
    OfflinePushInfo, Priority, role,
};
use termim::tui::effect::{Effect, EffectResult, HistoryDirection, SdkError};
use termim::tui::{Action, App, SdkEvent, update};
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

/// Where `needle` starts on screen (column, row), by text.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let first = needle.chars().next()?.to_string();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            if buf[(x, y)].symbol() != first {
                continue;
            }
            let mut cx = x;
            let mut ok = true;
            for c in needle.chars() {
                if cx >= buf.area.width || buf[(cx, y)].symbol() != c.to_string() {
                    ok = false;
                    break;
                }
                cx += u16::try_from(unicode_width(c)).unwrap_or(1);
            }
            if ok {
                return Some((x, y));
            }
        }
    }
    None
}

fn unicode_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c)
        .unwrap_or(1)
        .max(1)
}

fn member(id: &str, card: &str, r: u32, online: bool) -> GroupMemberFullInfo {
    GroupMemberFullInfo {
        user_id: id.into(),
        nick_name: String::new(),
        name_card: card.into(),
        role: r,
        join_time: NOW - 30 * DAY,
        mute_until: 0,
        is_online: online,
    }
}

/// Team Work's members as the server lists them (alice, the owner, included).
fn team_members() -> Vec<GroupMemberFullInfo> {
    vec![
        member("alice", "", role::OWNER, true),
        member("bob", "Bob Li", role::MEMBER, true),
        member("carol", "", role::ADMIN, false),
        member("dave", "", role::MEMBER, false),
        member("xiaoming", "小明", role::MEMBER, true),
    ]
}

fn members_page(list: Vec<GroupMemberFullInfo>) -> EffectResult {
    EffectResult::Members {
        group_id: "team".into(),
        next_seq: "0".into(),
        result: Ok(GroupMemberInfoResult {
            next_seq: "0".into(),
            member_info_list: list,
        }),
    }
}

/// Team Work open, the picker open on its members.
fn picker_open(w: u16, h: u16) -> App {
    let mut app = team_open(w, h);
    let effects = ctrl(&mut app, 't');
    assert_eq!(
        effects,
        vec![Effect::LoadMembers {
            group_id: "team".into(),
            next_seq: "0".into(),
            count: 100,
        }]
    );
    app
}

// ----- the picker -----------------------------------------------------------------

#[test]
fn picker_loading_then_open() {
    let mut app = picker_open(80, 24);
    snap("picker_loading", &app);
    app.apply_result(members_page(team_members()));
    snap("picker_open", &app);
}

#[test]
fn picker_filtered_by_a_cjk_name_card() {
    let mut app = picker_open(80, 24);
    app.apply_result(members_page(team_members()));
    typing(&mut app, "小");
    snap("picker_filtered_cjk", &app);
    ctrl(&mut app, 'u');
    typing(&mut app, "zz");
    snap("picker_filtered_nothing", &app);
}

#[test]
fn picker_with_a_selection_then_armed_composer() {
    let mut app = picker_open(80, 24);
    app.apply_result(members_page(team_members()));
    typing(&mut app, "bob");
    key(&mut app, KeyCode::Char(' '));
    ctrl(&mut app, 'u');
    typing(&mut app, "car");
    key(&mut app, KeyCode::Char(' '));
    ctrl(&mut app, 'u');
    key(&mut app, KeyCode::Down);
    snap("picker_selection", &app);
    key(&mut app, KeyCode::Enter);
    snap("composer_armed", &app);
}

#[test]
fn picker_errors() {
    let mut app = picker_open(80, 24);
    app.apply_result(EffectResult::Members {
        group_id: "team".into(),
        next_seq: "0".into(),
        result: Err(SdkError::new(10007, "you are not a member of group team")),
    });
    snap("picker_load_failed", &app);

    // Selecting past the limit of 50.
    let mut app = picker_open(80, 24);
    let many: Vec<GroupMemberFullInfo> = (0..60)
        .map(|i| member(&format!("user{i:02}"), "", role::MEMBER, i % 3 == 0))
        .collect();
    app.apply_result(members_page(many));
    ctrl(&mut app, 'a');
    snap("picker_over_limit", &app);
}

#[test]
fn picker_narrow() {
    let mut app = picker_open(40, 12);
    app.apply_result(members_page(team_members()));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Down);
    snap("picker_narrow", &app);
}

// ----- the custom-message editor -----------------------------------------------------

fn editor_open(w: u16, h: u16) -> App {
    let mut app = team_open(w, h);
    alt(&mut app, 'c');
    app
}

#[test]
fn custom_editor_empty_and_filled() {
    let mut app = editor_open(80, 24);
    snap("custom_editor_empty", &app);
    app = editor_open(80, 24);
    update(
        &mut app,
        Action::Paste("{\"type\":\"poll\",\n \"question\":\"午饭吃什么？\",\n \"options\":[\"面条\",\"披萨\"]}".into()),
    );
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "投票：午饭");
    key(&mut app, KeyCode::Tab);
    typing(&mut app, "poll/v1");
    alt(&mut app, 'j');
    snap("custom_editor_valid_json", &app);
}

#[test]
fn custom_editor_marks_the_first_json_error() {
    let mut app = editor_open(80, 24);
    update(
        &mut app,
        Action::Paste(
            "{\"build\": 1842,\n \"status\": \"passed\"\n \"url\": \"https://ci\"}".into(),
        ),
    );
    press(&mut app, KeyCode::F(2), KeyModifiers::NONE);
    snap("custom_editor_json_error", &app);
    // The error cell is marked: the `"` that should have been a `,` (line 3).
    let buf = buffer(&app);
    let (x, y) = find(&buf, "\"url\"").expect("line 3 shown");
    assert_eq!(
        buf[(x, y)].bg,
        app.theme.error_mark.bg.expect("a background")
    );
    assert_ne!(
        buf[(x + 1, y)].bg,
        app.theme.error_mark.bg.expect("a background"),
        "only that cell"
    );
}

#[test]
fn custom_editor_refuses_over_the_limit_and_an_empty_data() {
    let mut app = editor_open(80, 24);
    ctrl(&mut app, 's');
    snap("custom_editor_no_data", &app);
    update(&mut app, Action::Paste("x".repeat(12 * 1024 + 1)));
    let effects = ctrl(&mut app, 's');
    assert!(effects.is_empty(), "{effects:?}");
    snap("custom_editor_over_limit", &app);
}

#[test]
fn custom_editor_narrow() {
    let mut app = editor_open(40, 12);
    typing(&mut app, "{\"k\":1}");
    snap("custom_editor_narrow", &app);
}

// ----- send options ----------------------------------------------------------------------

#[test]
fn send_options_in_a_group() {
    let mut app = team_open(80, 24);
    ctrl(&mut app, 'o');
    snap("send_options_open", &app);
    key(&mut app, KeyCode::Right); // priority: normal → low
    key(&mut app, KeyCode::Right); // → default
    key(&mut app, KeyCode::Right); // → high
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' ')); // online-only
    for _ in 0..5 {
        key(&mut app, KeyCode::Down);
    }
    typing(&mut app, "{\"reply\":\"m-1\"}");
    key(&mut app, KeyCode::Down);
    typing(&mut app, "seen on my laptop");
    snap("send_options_edited", &app);
    // Local custom data is marked as staying here, in its own colour.
    let buf = buffer(&app);
    let (x, y) = find(&buf, "⌂ stays on this device").expect("the local tag");
    assert_eq!(
        buf[(x, y)].fg,
        app.theme.local_only.fg.expect("local_only has a colour")
    );
    let (fx, fy) = find(&buf, "seen on my laptop").expect("the local field");
    assert_eq!(
        buf[(fx, fy)].fg,
        app.theme.local_only.fg.expect("local_only has a colour")
    );
    key(&mut app, KeyCode::Enter);
    snap("send_options_applied", &app);
}

#[test]
fn send_options_in_a_one_to_one_chat_grey_out_read_receipts() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("c2c_bob");
    ctrl(&mut app, 'o');
    for _ in 0..4 {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Char(' '));
    snap("send_options_c2c", &app);
    let buf = buffer(&app);
    let (x, y) = find(&buf, "Ask for read receipts").expect("row shown");
    assert_eq!(
        buf[(x, y)].fg,
        app.theme.muted.fg.expect("muted has a colour"),
        "greyed out"
    );
}

#[test]
fn send_options_narrow() {
    let mut app = team_open(40, 12);
    ctrl(&mut app, 'o');
    for _ in 0..7 {
        key(&mut app, KeyCode::Down);
    }
    typing(&mut app, "draft-7");
    snap("send_options_narrow", &app);
}

// ----- conversation custom data --------------------------------------------------------

fn marked_workspace() -> App {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char(' ')); // Team Work, then the cursor moves on
    key(&mut app, KeyCode::Char(' ')); // bob
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' ')); // carol
    app
}

#[test]
fn conversation_marks_in_the_list() {
    let app = marked_workspace();
    snap("conversation_marks", &app);
    let buf = buffer(&app);
    let (x, y) = find(&buf, "● #Team").expect("marked row");
    assert_eq!(
        buf[(x, y)].fg,
        app.theme.marked.fg.expect("marked has a colour")
    );
}

#[test]
fn conversation_data_editor_and_its_results() {
    let mut app = marked_workspace();
    key(&mut app, KeyCode::Char('c'));
    typing(&mut app, "项目:alpha");
    snap("conversation_data_editor", &app);
    let effects = key(&mut app, KeyCode::Enter);
    let ids = vec![
        "group_team".to_string(),
        "c2c_bob".to_string(),
        "c2c_carol".to_string(),
    ];
    assert_eq!(
        effects,
        vec![Effect::SetConversationData {
            conversation_ids: ids.clone(),
            data: "项目:alpha".into(),
        }]
    );
    snap("conversation_data_saving", &app);
    let result = |id: &str, code: i32, info: &str| ConversationOperationResult {
        conversation_id: id.into(),
        result_code: code,
        result_info: info.into(),
    };
    app.apply_result(EffectResult::ConversationDataSet {
        conversation_ids: ids,
        data: "项目:alpha".into(),
        result: Ok(vec![
            result("group_team", 0, ""),
            result("c2c_bob", 0, ""),
            result(
                "c2c_carol",
                51008,
                "at most 1000 conversations may carry custom data",
            ),
        ]),
    });
    snap("conversation_data_results", &app);
}

#[test]
fn conversation_data_refused_whole() {
    let mut app = marked_workspace();
    key(&mut app, KeyCode::Char('c'));
    update(&mut app, Action::Paste("x".repeat(257)));
    key(&mut app, KeyCode::Enter);
    snap("conversation_data_over_limit", &app);
}

#[test]
fn conversation_data_narrow() {
    let mut app = sized(workspace(), 40, 12);
    key(&mut app, KeyCode::Char('c'));
    typing(&mut app, "pinned-notes");
    snap("conversation_data_narrow", &app);
}

// ----- details ---------------------------------------------------------------------------

#[test]
fn conversation_details_follow_changes_from_another_device() {
    let mut app = sized(workspace(), 80, 24);
    key(&mut app, KeyCode::Char('v'));
    snap("conversation_details", &app);
    let mut team = app
        .conversation("group_team")
        .cloned()
        .expect("team is listed");
    team.custom_data = "set on my phone 📱".into();
    app.apply_event(SdkEvent::ConversationChanged(vec![team]));
    snap("conversation_details_changed", &app);
}

#[test]
fn message_details_of_a_sent_targeted_message() {
    let mut app = team_open(80, 30);
    let mut m = in_group(
        text("alice", NOW - 10 * MIN, 11, "the keys are in the vault 🔑"),
        "team",
    );
    m.target_group_member_list = vec!["bob".into(), "carol".into()];
    m.priority = Priority::High;
    m.need_read_receipt = true;
    m.is_excluded_from_unread_count = true;
    m.cloud_custom_data = Some("{\"reply\":\"m-7\"}".into());
    m.local_custom_data = Some("seen on laptop".into());
    m.offline_push_info = Some(OfflinePushInfo {
        title: "Vault".into(),
        desc: "keys inside".into(),
        ..OfflinePushInfo::default()
    });
    app.apply_event(SdkEvent::NewMessage(m));
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Char('v'));
    snap("message_details_targeted", &app);
}

#[test]
fn message_details_of_a_custom_message_scrolls() {
    let mut app = team_open(80, 24);
    update(&mut app, Action::FocusPrev);
    for _ in 0..4 {
        key(&mut app, KeyCode::Up);
    }
    key(&mut app, KeyCode::Char('v'));
    snap("message_details_custom", &app);
    key(&mut app, KeyCode::Char('G'));
    snap("message_details_custom_end", &app);
}

#[test]
fn message_details_of_a_failed_message_narrow() {
    let mut app = team_open(40, 12);
    let mut m = in_group(text("alice", NOW - MIN, 0, "to dave only"), "team");
    m.msg_id.clear();
    m.id = "local-1".into();
    m.status = MessageStatus::Sending;
    m.target_group_member_list = vec!["dave".into()];
    app.apply_result(EffectResult::MessageCreated {
        conversation_id: "group_team".into(),
        message: m,
    });
    app.apply_result(EffectResult::SendFailed {
        conversation_id: "group_team".into(),
        id: "local-1".into(),
        error: SdkError::new(
            10004,
            "targeted receiver \"dave\" is not a member of group \"team\"",
        ),
    });
    snap("failed_targeted_in_pane_narrow", &app);
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Char('v'));
    snap("message_details_failed_narrow", &app);
}

// ----- custom messages in the pane ----------------------------------------------------------

#[test]
fn custom_messages_collapse_and_expand() {
    let mut app = sized(workspace(), 80, 24);
    app.open_conversation_id("group_product");
    app.apply_result(EffectResult::History {
        conversation_id: "group_product".into(),
        direction: HistoryDirection::Latest,
        messages: vec![in_group(
            custom(
                "carol",
                NOW - 2 * HOUR,
                31,
                r#"{"order":77,"items":["键盘","鼠标"],"address":{"city":"上海","zip":"200000"},"paid":true}"#,
                "订单已发货",
                "logistics/v1",
            ),
            "product",
        )],
        is_finished: true,
    });
    snap("custom_collapsed", &app);
    update(&mut app, Action::FocusPrev);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Char('e'));
    snap("custom_expanded", &app);
}

// ----- sizes ---------------------------------------------------------------------------------

/// Opens an overlay on `team_open`.
type Opener = fn(&mut App);

/// Each overlay at the smallest sizes: degraded, never a panic.
#[test]
fn overlays_at_tiny_sizes() {
    let opened: Vec<(&str, Opener)> = vec![
        ("picker", |app: &mut App| {
            ctrl(app, 't');
            app.apply_result(members_page(team_members()));
        }),
        ("custom", |app: &mut App| {
            alt(app, 'c');
            typing(app, "{\"a\":");
            alt(app, 'j');
        }),
        ("options", |app: &mut App| {
            ctrl(app, 'o');
        }),
        ("details", |app: &mut App| {
            update(app, Action::FocusPrev);
            key(app, KeyCode::Char('v'));
        }),
        ("data", |app: &mut App| {
            key(app, KeyCode::Esc);
            key(app, KeyCode::Char('c'));
            typing(app, "值");
        }),
    ];
    for (name, open) in &opened {
        let mut app = team_open(80, 24);
        open(&mut app);
        assert!(app.overlay.is_some(), "{name} opened");
        for (w, h) in [(40, 12), (24, 8), (10, 5)] {
            let app = sized_ref(&mut app, w, h);
            let s = screen(app);
            if (w, h) != (10, 5) {
                insta::assert_snapshot!(format!("tiny_{name}_{w}x{h}"), s);
            }
        }
        for w in 0..=45u16 {
            for h in 0..=14u16 {
                update(&mut app, Action::Resize(w, h));
                render(&app, w, h);
                for a in [Action::SelectNext, Action::PageDown, Action::SelectLast] {
                    update(&mut app, a);
                    render(&app, w, h);
                }
            }
        }
    }
}

fn sized_ref(app: &mut App, w: u16, h: u16) -> &App {
    update(app, Action::Resize(w, h));
    app
}
