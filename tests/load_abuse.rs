//! Smoke test of `termim-load abuse` (docs/PERFORMANCE.md, "Abusers"): the scenario runs
//! end to end at tiny sizes — pre-fill, the restart, every phase with its abuser — and
//! prints each phase's line with numbers and the final table. No timing is asserted: the
//! numbers are the benchmark's, measured in release on a quiet box.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PHASES: [&str; 8] = [
    "quiet",
    "history-flood",
    "unauth-junk",
    "pin-toggle",
    "clean-all",
    "sync-flood",
    "half-open",
    "quiet-end",
];

/// The number right after `pat` in `line`, if it parses.
fn number_after(line: &str, pat: &str) -> Option<f64> {
    let rest = &line[line.find(pat)? + pat.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn abuse_scenario_runs_every_phase_and_prints_its_numbers() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_termim-load"))
        .args([
            "abuse",
            "--secs",
            "1",
            "--warmup-ms",
            "200",
            "--gap-ms",
            "100",
            "--big-body",
            "2000",
            "--history-messages",
            "30",
            "--history-burst",
            "5",
            "--junk-frames",
            "20",
            "--junk-bytes",
            "2000",
            "--pin-unread",
            "100",
            "--clean-groups",
            "5",
            "--sync-groups",
            "2",
            "--sync-per-group",
            "20",
            "--sync-loops",
            "2",
            "--half-open",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("termim-load starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    // Every phase is capped inside the scenario; this only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("termim-load abuse did not finish in 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().expect("stdout reader");
    assert!(status.success(), "exit {status}; output:\n{out}");
    assert!(out.contains("restarted on that data"), "{out}");
    for phase in PHASES {
        let head = format!("phase {phase} (item ");
        let line = out
            .lines()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no line for phase {phase}:\n{out}"));
        for pat in [" p50 ", " p99 ", " max ", "server CPU ", " RSS ", "peak "] {
            assert!(
                number_after(line, pat).is_some(),
                "phase {phase}: no number after {pat:?} in {line:?}"
            );
        }
        let acked = number_after(line, "(acked ").expect("acked count");
        assert!(acked > 0.0, "phase {phase}: the victim got no ack: {line}");
        // The line after it says what the abuser did.
        let abuser = out
            .lines()
            .skip_while(|l| !l.starts_with(&head))
            .nth(1)
            .unwrap_or("");
        assert!(abuser.starts_with("    abuser: "), "{phase}: {abuser:?}");
        assert!(
            !abuser.contains("failed:") && !abuser.contains("aborted"),
            "phase {phase}: the abuser did not run: {abuser}"
        );
        // And the table has its row.
        assert!(
            out.lines().any(|l| l.starts_with(&format!("| {phase} |"))),
            "no table row for {phase}:\n{out}"
        );
    }
}
