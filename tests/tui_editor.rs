//! The `$EDITOR` escape hatch and Ctrl-Z suspend, on the reducer side: the keys ask for
//! the loop's terminal effects (after saving the draft), and whatever the editor gives
//! back becomes the composer's text — or, when it fails, the draft stays and the status
//! line says why. Plus the editor run itself (`editor::edit_file`) with small shell
//! scripts as the editor. The whole thing in a real terminal is in
//! `tests/tui_pty_editor.rs`.

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use termim::tui::editor::{EditorError, edit_file};
use termim::tui::effect::{Effect, EffectResult, Outgoing, OutgoingContent};
use termim::tui::{Action, App, Context, Focus, update};
use tui_support::*;

const TEAM: &str = "group_team";
const FROM_EDITOR: &str = "你好 from editor 👋";

fn edited(app: &mut App, bytes: &[u8]) -> Vec<Effect> {
    app.apply_result(EffectResult::Edited {
        conversation_id: TEAM.into(),
        outcome: Ok(bytes.to_vec()),
    })
}

fn failed(app: &mut App, error: EditorError) -> Vec<Effect> {
    app.apply_result(EffectResult::Edited {
        conversation_id: TEAM.into(),
        outcome: Err(error),
    })
}

fn status(app: &App) -> (String, bool) {
    let s = app.visible_status().expect("a notice in the status line");
    (s.text.clone(), s.error)
}

fn set_draft(text: &str) -> Effect {
    Effect::SetDraft {
        conversation_id: TEAM.into(),
        text: Some(text.into()),
    }
}

// ----- the keys ----------------------------------------------------------------------

#[test]
fn alt_e_in_the_composer_saves_the_draft_then_asks_for_the_editor() {
    let mut app = team_open(100, 30);
    assert_eq!(app.focus, Focus::Composer);
    typing(&mut app, "草稿 draft ✍");
    let effects = alt(&mut app, 'e');
    assert_eq!(
        effects,
        vec![
            set_draft("草稿 draft ✍"),
            Effect::EditExternally {
                conversation_id: TEAM.into(),
                text: "草稿 draft ✍".into(),
            },
        ]
    );
    // Nothing changed yet: the composer keeps the text until the editor answers.
    assert_eq!(app.composer_text(), "草稿 draft ✍");
}

#[test]
fn ctrl_g_opens_the_editor_too_and_ctrl_e_is_still_end_of_line() {
    let mut app = team_open(100, 30);
    typing(&mut app, "ab");
    key(&mut app, KeyCode::Home);
    assert!(ctrl(&mut app, 'e').is_empty(), "Ctrl-E is the composer's");
    typing(&mut app, "c");
    assert_eq!(app.composer_text(), "abc", "Ctrl-E moved to the line end");
    let effects = ctrl(&mut app, 'g');
    assert_eq!(
        effects.last(),
        Some(&Effect::EditExternally {
            conversation_id: TEAM.into(),
            text: "abc".into(),
        })
    );
}

#[test]
fn an_empty_draft_goes_to_the_editor_as_empty_text_and_saves_nothing() {
    let mut app = team_open(100, 30);
    assert_eq!(
        alt(&mut app, 'e'),
        vec![Effect::EditExternally {
            conversation_id: TEAM.into(),
            text: String::new(),
        }]
    );
}

#[test]
fn the_editor_needs_an_open_conversation_and_is_a_composer_key() {
    let mut app = sized(workspace(), 100, 30);
    assert_eq!(app.focus, Focus::List);
    assert!(
        alt(&mut app, 'e').is_empty(),
        "Alt-E is not bound in the list"
    );
    assert!(update(&mut app, Action::ExternalEditor).is_empty());
    // In the message pane `e` expands; Alt-E is not the editor there either.
    let mut app = team_open(100, 30);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Focus::List);
    assert!(alt(&mut app, 'e').is_empty());
}

#[test]
fn the_keys_are_in_the_keymap_help_bar_and_help_overlay() {
    let app = team_open(120, 40);
    let chain = [Context::Composer, Context::Global];
    assert_eq!(
        app.keymap.hint(&chain, &Action::ExternalEditor).as_deref(),
        Some("Alt-e")
    );
    assert_eq!(
        app.keymap.hint(&chain, &Action::Suspend).as_deref(),
        Some("^Z")
    );
    assert!(
        app.keymap
            .help_bar(&chain)
            .iter()
            .any(|i| i.action == Action::ExternalEditor && i.keys == "Alt-e"),
        "the composer's help bar offers the editor"
    );
    let mut app = app;
    key(&mut app, KeyCode::F(1));
    let mut shown = screen(&app);
    // The help scrolls; page through it all.
    for _ in 0..10 {
        key(&mut app, KeyCode::PageDown);
        shown.push_str(&screen(&app));
    }
    assert!(
        shown.contains("Edit the draft in $VISUAL/$EDITOR"),
        "{shown}"
    );
    assert!(
        shown.contains("Suspend to the shell (fg resumes)"),
        "{shown}"
    );
}

// ----- what comes back -----------------------------------------------------------------

#[test]
fn the_editors_text_replaces_the_draft_is_saved_as_a_draft_and_is_not_sent() {
    let mut app = team_open(100, 30);
    typing(&mut app, "before");
    let _ = alt(&mut app, 'e');
    let effects = edited(&mut app, format!("before\n{FROM_EDITOR}\n").as_bytes());
    let want = format!("before\n{FROM_EDITOR}");
    assert_eq!(effects, vec![set_draft(&want)], "saved, never sent");
    assert_eq!(app.composer_text(), want);
    assert_eq!(app.focus, Focus::Composer);
    let (notice, error) = status(&app);
    assert!(!error);
    assert_eq!(notice, "From the editor: review, then Enter sends");
    // The user reviews it and sends it with Enter.
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        effects.contains(&Effect::Send(Outgoing {
            conversation_id: TEAM.into(),
            content: OutgoingContent::Text(want.clone()),
            targets: Vec::new(),
            options: Default::default(),
        })),
        "{effects:?}"
    );
    assert_eq!(app.composer_text(), "");
}

#[test]
fn one_trailing_newline_is_the_editors_and_is_taken_off_the_rest_is_kept() {
    let mut app = team_open(100, 30);
    edited(&mut app, "第一行\n第二行 🎉\n\n".as_bytes());
    assert_eq!(app.composer_text(), "第一行\n第二行 🎉\n");
    edited(&mut app, b"no newline at all");
    assert_eq!(app.composer_text(), "no newline at all");
    edited(&mut app, "crlf 行\r\nline two\r\n".as_bytes());
    assert_eq!(app.composer_text(), "crlf 行\nline two");
    assert_eq!(app.composer.lines(), ["crlf 行", "line two"]);
}

#[test]
fn an_emptied_file_clears_the_draft() {
    let mut app = team_open(100, 30);
    typing(&mut app, "to be removed");
    let _ = alt(&mut app, 'e');
    let effects = edited(&mut app, b"\n");
    assert_eq!(app.composer_text(), "");
    assert_eq!(
        effects,
        vec![Effect::SetDraft {
            conversation_id: TEAM.into(),
            text: None,
        }]
    );
}

#[test]
fn text_the_editor_did_not_change_asks_for_nothing() {
    let mut app = team_open(100, 30);
    typing(&mut app, "same 一样");
    let _ = alt(&mut app, 'e');
    assert!(edited(&mut app, "same 一样\n".as_bytes()).is_empty());
    assert_eq!(app.composer_text(), "same 一样");
    assert_eq!(status(&app).0, "The editor changed nothing");
}

#[test]
fn invalid_utf8_keeps_the_draft_and_says_why() {
    let mut app = team_open(100, 30);
    typing(&mut app, "keep me 留着");
    let _ = alt(&mut app, 'e');
    let effects = edited(&mut app, b"ok \xff\xfe broken");
    assert!(effects.is_empty());
    assert_eq!(app.composer_text(), "keep me 留着");
    let (notice, error) = status(&app);
    assert!(error);
    assert_eq!(
        notice,
        "The edited text is not UTF-8 (byte 3); draft unchanged"
    );
}

#[test]
fn a_failing_editor_keeps_the_draft_and_shows_its_exit_status() {
    let mut app = team_open(100, 30);
    typing(&mut app, "draft 草稿");
    let effects = failed(
        &mut app,
        EditorError::Failed {
            editor: "vim".into(),
            status: "status 1".into(),
        },
    );
    assert!(effects.is_empty());
    assert_eq!(app.composer_text(), "draft 草稿");
    assert_eq!(
        status(&app),
        (
            "Editor \"vim\" exited with status 1; draft unchanged".into(),
            true
        )
    );
}

#[test]
fn a_missing_editor_is_a_notice() {
    let mut app = team_open(100, 30);
    typing(&mut app, "draft");
    failed(
        &mut app,
        EditorError::NotFound {
            editor: "no-such-editor".into(),
        },
    );
    assert_eq!(app.composer_text(), "draft");
    assert_eq!(
        status(&app),
        (
            "Editor \"no-such-editor\" not found (set $VISUAL or $EDITOR); draft unchanged".into(),
            true
        )
    );
}

#[test]
fn text_for_a_conversation_left_meanwhile_becomes_its_draft() {
    let mut app = team_open(100, 30);
    let _ = app.open_conversation_id("c2c_bob");
    let effects = edited(&mut app, "for the team 团队\n".as_bytes());
    assert_eq!(effects, vec![set_draft("for the team 团队")]);
    assert_eq!(app.composer_text(), "", "bob's composer is untouched");
    assert_eq!(app.draft_of(TEAM), Some("for the team 团队"));
    let _ = app.open_conversation_id(TEAM);
    assert_eq!(app.composer_text(), "for the team 团队");
}

// ----- Ctrl-Z --------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn ctrl_z_saves_the_draft_then_asks_to_suspend_from_anywhere() {
    let mut app = team_open(100, 30);
    typing(&mut app, "half-written 半句");
    assert_eq!(
        ctrl(&mut app, 'z'),
        vec![set_draft("half-written 半句"), Effect::Suspend]
    );
    // From the list, and with an overlay open (global keys reach through).
    key(&mut app, KeyCode::Esc);
    assert_eq!(ctrl(&mut app, 'z'), vec![Effect::Suspend]);
    key(&mut app, KeyCode::F(1));
    assert!(app.overlay.is_some());
    assert_eq!(ctrl(&mut app, 'z'), vec![Effect::Suspend]);
    let mut app = team_open(100, 30);
    assert!(
        alt(&mut app, 'c').is_empty(),
        "the custom-message editor opens"
    );
    assert!(app.overlay.is_some());
    assert_eq!(
        press(&mut app, KeyCode::Char('z'), KeyModifiers::CONTROL),
        vec![Effect::Suspend]
    );
}

#[test]
fn a_suspend_that_did_not_happen_says_why() {
    let mut app = team_open(100, 30);
    assert!(
        app.apply_result(EffectResult::Resumed { error: None })
            .is_empty()
    );
    assert!(app.visible_status().is_none(), "a normal resume is silent");
    app.apply_result(EffectResult::Resumed {
        error: Some("there is no shell to suspend to here".into()),
    });
    assert_eq!(
        status(&app),
        (
            "Could not suspend: there is no shell to suspend to here".into(),
            true
        )
    );
}

// ----- the editor run ------------------------------------------------------------------

/// A shell script in `dir` used as the editor command.
#[cfg(unix)]
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

#[cfg(unix)]
#[tokio::test]
async fn the_editor_gets_the_draft_in_a_file_and_its_changes_come_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = dir.path().join("seen");
    // Records what it was given, then appends a line, as a user would.
    let editor = script(
        dir.path(),
        "append.sh",
        &format!(
            "cp \"$1\" '{seen}'\necho \"$1\" >> '{seen}.path'\nprintf '%s\\n' '{FROM_EDITOR}' >> \"$1\"",
            seen = seen.display()
        ),
    );
    let bytes = edit_file(&editor, "草稿 draft", dir.path())
        .await
        .expect("the editor ran");
    assert_eq!(
        std::fs::read_to_string(&seen).expect("the editor saw the file"),
        "草稿 draft\n"
    );
    assert_eq!(
        String::from_utf8(bytes).expect("UTF-8"),
        format!("草稿 draft\n{FROM_EDITOR}\n")
    );
    // The file is gone afterwards.
    let path = std::fs::read_to_string(format!("{}.path", seen.display())).expect("path");
    assert!(
        !std::path::Path::new(path.trim()).exists(),
        "{path} left behind"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_editor_with_arguments_works_through_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let editor = script(dir.path(), "with-args.sh", "printf '%s' \"$1\" > \"$2\"");
    let bytes = edit_file(&format!("{editor} 'two words'"), "x", dir.path())
        .await
        .expect("the editor ran");
    assert_eq!(bytes, b"two words");
}

#[cfg(unix)]
#[tokio::test]
async fn editor_failures_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let failing = script(dir.path(), "fail.sh", "echo broken > \"$1\"\nexit 3");
    assert_eq!(
        edit_file(&failing, "draft", dir.path()).await,
        Err(EditorError::Failed {
            editor: failing.clone(),
            status: "status 3".into(),
        })
    );
    assert_eq!(
        edit_file("termim-no-such-editor-here", "draft", dir.path()).await,
        Err(EditorError::NotFound {
            editor: "termim-no-such-editor-here".into(),
        })
    );
    // Killed by a signal: `sh` either ran it in its place (the signal) or as a child
    // (128 + the signal), depending on the shell.
    let killed = script(dir.path(), "killed.sh", "kill -TERM $$");
    match edit_file(&killed, "draft", dir.path()).await {
        Err(EditorError::Failed { editor, status }) => {
            assert_eq!(editor, killed);
            assert!(status == "signal 15" || status == "status 143", "{status}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Bytes that are not UTF-8 come back as they are; the reducer refuses them.
    let binary = script(dir.path(), "binary.sh", "printf '\\377\\376' > \"$1\"");
    assert_eq!(
        edit_file(&binary, "draft", dir.path()).await,
        Ok(vec![0xff, 0xfe])
    );
    // Only the scripts are left: no draft file outlives an edit, failed or not.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sh"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn a_directory_that_cannot_hold_the_file_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("does-not-exist");
    match edit_file("true", "draft", &missing).await {
        Err(EditorError::File(why)) => assert!(why.contains("cannot create it"), "{why}"),
        other => panic!("expected a file error, got {other:?}"),
    }
}

// ----- what it looks like --------------------------------------------------------------

#[test]
fn snapshot_text_back_from_the_editor() {
    let mut app = team_open(80, 24);
    edited(&mut app, format!("{FROM_EDITOR}\n第二行\n").as_bytes());
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn snapshot_an_editor_failure_notice() {
    let mut app = team_open(100, 24);
    typing(&mut app, "draft 草稿");
    failed(
        &mut app,
        EditorError::Failed {
            editor: "vim".into(),
            status: "status 1".into(),
        },
    );
    insta::assert_snapshot!(screen(&app));
}
