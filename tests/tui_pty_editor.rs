//! The real `termim` binary in a pseudo-terminal, lending its terminal out:
//! - Alt-E runs `$EDITOR` (a small script written here) on the draft with the terminal
//!   given back (main screen, cooked mode, keys reach the editor and not termim), then
//!   takes it back, redraws everything and shows the edited text in the composer; Enter
//!   sends it, and `termim history --json` in a second process finds it;
//! - Ctrl-Z under an interactive bash (job control) stops the process (state `T` in
//!   `/proc/<pid>/stat`) with the terminal restored; `fg` resumes it, redrawn and
//!   working.
//!
//! Waits poll the emulated screen against a deadline; nothing sleeps a fixed time.
#![cfg(unix)]

mod pty_support;

use std::path::Path;
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;
use pty_support::{Pty, Workspace};

/// Start-up (a debug build seeding the demo workspace on a busy CI machine) may be slow.
const START: Duration = Duration::from_secs(30);
/// Anything after start-up.
const STEP: Duration = Duration::from_secs(15);

const COLS: u16 = 100;
const ROWS: u16 = 30;

const FROM_EDITOR: &str = "你好 from editor 👋";

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_termim"))
}

fn demo_shown(s: &str) -> bool {
    s.contains("#Team 工作组") && s.contains("#Lounge") && s.contains("● online")
}

/// Open a conversation through the filter (`/`, its name, Enter) from the list.
fn open(pty: &mut Pty, name: &str, title: &str) {
    pty.type_text(&format!("/{name}"));
    pty.wait_for("the filter", STEP, |s| {
        s.contains(&format!("│/ {name} ")) && s.contains(" 1/")
    });
    pty.send(b"\r");
    pty.shows(&format!("Message {title}"), STEP);
}

/// `termim history CONV --json` as `user` in a second process: the message whose text
/// is `text`.
fn find_in_history(ws: &Workspace, user: &str, conv: &str, text: &str) -> serde_json::Value {
    let out = ws.run(exe(), user, &["history", conv, "--json"]);
    assert!(
        out.status.success(),
        "termim history failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("history --json is JSON");
    list.as_array()
        .expect("a list of messages")
        .iter()
        .find(|m| m["textElem"]["text"] == text)
        .cloned()
        .unwrap_or_else(|| panic!("{text:?} not in {user}'s history: {list:#}"))
}

fn write_script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn alt_e_edits_the_draft_in_editor_with_the_terminal_handed_over_then_enter_sends_it() {
    let ws = Workspace::new();
    // The "editor": shows what it was given, reads one line from the terminal (so only
    // works if the terminal is in cooked mode and termim is not reading it), appends it.
    let editor = write_script(
        ws.path(),
        "editor.sh",
        "printf 'EDITOR OPEN [%s]\\n' \"$(cat \"$1\")\"\nIFS= read -r line\nprintf '%s\\n' \"$line\" >> \"$1\"",
    );
    let tmp = ws.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp dir");
    let mut cmd = ws.command(exe(), "dana", &[]);
    cmd.env_remove("VISUAL");
    cmd.env("EDITOR", &editor);
    cmd.env("TMPDIR", &tmp);
    let mut pty = Pty::spawn(cmd, COLS, ROWS);
    pty.wait_for("the demo workspace", START, demo_shown);
    open(&mut pty, "Team", "Team 工作组");
    pty.type_text("draft 草稿");
    pty.shows("draft 草稿", STEP);

    pty.send(b"\x1be"); // Alt-E
    pty.shows("EDITOR OPEN [draft 草稿]", STEP);
    pty.with_screen(|s| {
        assert!(!s.alternate_screen(), "the editor runs on the main screen");
        assert!(!s.hide_cursor(), "the cursor is shown for the editor");
        assert!(
            !s.bracketed_paste(),
            "bracketed paste is off for the editor"
        );
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting is off for the editor"
        );
    });
    #[cfg(target_os = "linux")]
    if let Some(flags) = pty.local_flags() {
        const ICANON: u64 = 0o000002;
        const ECHO: u64 = 0o000010;
        assert_eq!(
            flags & (ICANON | ECHO),
            ICANON | ECHO,
            "cooked for the editor"
        );
    }
    pty.type_text(&format!("{FROM_EDITOR}\r"));

    // Back: everything drawn again, the edited text in the composer, not sent.
    pty.wait_for("the redrawn UI with the edited draft", STEP, |s| {
        s.contains("Conversations 4")
            && s.contains("Team 工作组 · Work group")
            && s.contains(FROM_EDITOR)
            && s.contains("From the editor: review, then Enter sends")
            && !s.contains("EDITOR OPEN")
    });
    assert!(pty.with_screen(|s| s.alternate_screen()));
    assert!(
        !pty.contents().contains(&format!("{FROM_EDITOR} ✓")),
        "nothing is sent without Enter"
    );

    pty.send(b"\r");
    pty.wait_for("the sent message", STEP, |s| {
        s.contains(&format!("{FROM_EDITOR} ✓")) && s.contains("Message Team 工作组")
    });
    let sent = find_in_history(
        &ws,
        "carol",
        "group_team",
        &format!("draft 草稿\n{FROM_EDITOR}"),
    );
    assert_eq!(sent["sender"], "dana");
    assert_eq!(sent["groupID"], "team");

    pty.send(b"\x03");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
    // The draft file lived in $TMPDIR and is gone.
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "left in $TMPDIR: {left:?}");
}

#[test]
fn a_failing_or_interrupted_editor_leaves_the_draft_and_says_so() {
    let ws = Workspace::new();
    // First run: writes garbage and fails. Second run: waits for a line (the test
    // interrupts it with Ctrl-C instead).
    let editor = write_script(
        ws.path(),
        "broken.sh",
        "n=$(cat \"$0.count\" 2>/dev/null || echo 0)\necho $((n + 1)) > \"$0.count\"\n\
         if [ \"$n\" = 0 ]; then echo garbage > \"$1\"; exit 4; fi\n\
         echo 'EDITOR WAITING'\nIFS= read -r line\necho \"$line\" >> \"$1\"",
    );
    let mut cmd = ws.command(exe(), "dana", &[]);
    cmd.env("VISUAL", &editor);
    cmd.env("EDITOR", "/nonexistent/is-not-used");
    let mut pty = Pty::spawn(cmd, COLS, ROWS);
    pty.wait_for("the demo workspace", START, demo_shown);
    open(&mut pty, "Team", "Team 工作组");
    pty.type_text("kept 留着");
    pty.shows("kept 留着", STEP);
    pty.send(b"\x07"); // Ctrl-G, the other editor key
    pty.wait_for("the failure notice", STEP, |s| {
        s.contains("exited with status 4; draft unchanged")
            && s.contains("kept 留着")
            && !s.contains("garbage")
            && s.contains("Conversations 4")
    });

    // Ctrl-C in the editor stops the editor, not termim (which ignores it meanwhile).
    pty.send(b"\x07");
    pty.shows("EDITOR WAITING", STEP);
    pty.send(b"\x03");
    pty.wait_for("the interrupted notice", STEP, |s| {
        s.contains("exited with")
            && s.contains("draft unchanged")
            && !s.contains("status 4")
            && s.contains("kept 留着")
            && s.contains("Conversations 4")
    });
    assert!(
        matches!(pty.child.try_wait(), Ok(None)),
        "termim is still running"
    );
    pty.send(b"\x03");
    assert!(pty.wait_exit(STEP).success());
}

/// State letter of a process (`R`, `S`, `T` …) from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid …": comm may hold spaces, so look after the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The pid of `parent`'s child named `name`.
#[cfg(target_os = "linux")]
fn child_named(parent: u32, name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent && comm == name).then_some(pid)
    })
}

fn wait_until(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Ctrl-Z needs a shell with job control: in a pty on its own, termim is a session
/// leader in an orphaned process group, where the kernel discards SIGTSTP. So an
/// interactive bash runs termim as a job, as a user's shell does.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_z_stops_termim_to_the_shell_and_fg_brings_it_back_redrawn() {
    if !Path::new("/bin/bash").exists() {
        eprintln!("no /bin/bash: skipped");
        return;
    }
    let ws = Workspace::new();
    let mut cmd = CommandBuilder::new("/bin/bash");
    cmd.args(["--norc", "--noprofile", "-i"]);
    for k in [
        "TERMIM_SERVER",
        "TERMIM_USER",
        "TERMIM_USERSIG",
        "TERMIM_DATA_DIR",
        "TERMIM_CONFIG",
        "TERMIM_LOG",
        "TERMIM_TEST_PANIC",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("HOME", ws.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env("PS1", "jobshell$ ");
    cmd.env("RUST_BACKTRACE", "0");
    cmd.cwd(ws.path());
    let mut pty = Pty::spawn(cmd, COLS, ROWS);
    pty.shows("jobshell$ ", STEP);
    let bash = pty.pid().expect("bash's pid");

    let line = format!(
        "{} --data-dir {} --config {} --user dana\r",
        shell_quote(&exe().to_string_lossy()),
        shell_quote(&ws.data_dir().to_string_lossy()),
        shell_quote(&ws.config().to_string_lossy()),
    );
    pty.type_text(&line);
    pty.wait_for("the demo workspace", START, demo_shown);
    let mut termim = None;
    wait_until("termim's pid", STEP, || {
        termim = child_named(bash, "termim");
        termim.is_some()
    });
    let termim = termim.expect("pid");
    open(&mut pty, "Team", "Team 工作组");
    pty.type_text("before suspend");
    pty.shows("before suspend", STEP);

    pty.send(b"\x1a"); // Ctrl-Z
    wait_until("termim stopped", STEP, || proc_state(termim) == Some('T'));
    pty.wait_for("the shell's prompt and job notice", STEP, |s| {
        s.contains("Stopped") && s.trim_end().ends_with("jobshell$")
    });
    pty.with_screen(|s| {
        assert!(!s.alternate_screen(), "the shell is on the main screen");
        assert!(!s.hide_cursor(), "the cursor is shown");
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting is off"
        );
    });
    assert_eq!(proc_state(termim), Some('T'), "still stopped");

    pty.type_text("fg\r");
    wait_until("termim running", STEP, || proc_state(termim) != Some('T'));
    // Everything is drawn again, the draft intact, and keys reach termim again.
    pty.wait_for("the redrawn UI", STEP, |s| {
        s.contains("Conversations 4")
            && s.contains("Team 工作组 · Work group")
            && s.contains("before suspend")
            && !s.contains("Stopped")
    });
    assert!(pty.with_screen(|s| s.alternate_screen()));
    pty.type_text(" and after");
    pty.shows("before suspend and after", STEP);
    pty.send(b"\r");
    pty.shows("before suspend and after ✓", STEP);
    let sent = find_in_history(&ws, "carol", "group_team", "before suspend and after");
    assert_eq!(sent["sender"], "dana");

    // A second round trip works the same.
    pty.send(b"\x1a");
    wait_until("termim stopped again", STEP, || {
        proc_state(termim) == Some('T')
    });
    pty.wait_for("the prompt again", STEP, |s| {
        s.trim_end().ends_with("jobshell$")
    });
    pty.type_text("fg\r");
    pty.shows("Conversations 4", STEP);
    pty.type_text("again");
    pty.shows("again", STEP);

    pty.send(b"\x03");
    pty.wait_for("the shell after termim quit", STEP, |s| {
        s.trim_end().ends_with("jobshell$")
    });
    wait_until("termim gone", STEP, || proc_state(termim).is_none());
    pty.type_text("exit\r");
    let status = pty.wait_exit(STEP);
    assert!(status.success(), "bash exit status {status:?}");
}
