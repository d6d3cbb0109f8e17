//! Standard output of the scripting commands.
//!
//! - Every write returns an error instead of panicking (`println!` panics when stdout is
//!   a closed pipe). A closed pipe is [`StdoutClosed`]: the reader has all it wanted
//!   (`termim history --json | head -1`), so `main` ends quietly with status 0, as most
//!   Rust command-line tools that handle it do (rather than the shell's 141 for a
//!   SIGPIPE death), after logging out as usual.
//! - Text output shows other people's strings through [`safe`], which makes control
//!   characters visible (`crate::safe_text::line`), so a message cannot drive the
//!   user's terminal. JSON output is exact: serde_json escapes every control character.

use std::borrow::Cow;
use std::io::{self, Write as _};

use serde::Serialize;

/// Standard output was closed by its reader.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Did `e` come from a closed standard output?
pub fn is_stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.is::<StdoutClosed>())
}

fn write_error(e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        anyhow::Error::new(StdoutClosed)
    } else {
        anyhow::anyhow!("cannot write to standard output: {e}")
    }
}

/// Print one line (the text must already be safe: build it with [`safe`]).
pub fn line(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// Print `value` as pretty JSON.
pub fn json_pretty<T: Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}

/// Print `value` as JSON on one line.
pub fn json_line<T: Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string(value)?)
}

/// A string from someone else (or the server), safe to print in a line of text.
pub fn safe(s: &str) -> Cow<'_, str> {
    crate::safe_text::line(s)
}

/// A line on standard error that never panics (stderr may be a closed pipe too).
pub fn warn(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{}", safe(text));
}
