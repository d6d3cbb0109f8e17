//! The `$EDITOR` escape hatch and Ctrl-Z: what the reducer does with the keys and with
//! what comes back, and the editor run itself.
//!
//! The keys only produce effects ([`Effect::EditExternally`], [`Effect::Suspend`]); the
//! event loop performs them, because both hand the terminal to something else (see
//! `run::TerminalHost`). The editor's file comes back as bytes in
//! [`EffectResult::Edited`] and becomes the composer's text here, so every outcome is a
//! plain state change a test can drive.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::action::{Action, Context};
use super::app::{App, Focus};
use super::effect::Effect;

/// The editor when neither `$VISUAL` nor `$EDITOR` is set.
pub const FALLBACK_EDITOR: &str = "vi";
/// Bigger files are refused (no message is anywhere near this; a stray binary is).
pub const MAX_EDITED_BYTES: usize = 1024 * 1024;

/// Why the editor's text did not come back. Each is short enough for the status line,
/// where the reducer adds that the draft is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditorError {
    #[error("The edited text is not UTF-8 (byte {offset})")]
    NotUtf8 { offset: usize },
    #[error("The edited file is over 1 MiB ({bytes} bytes)")]
    TooBig { bytes: usize },
    #[error("Editor {editor:?} not found (set $VISUAL or $EDITOR)")]
    NotFound { editor: String },
    #[error("Editor {editor:?} exited with {status}")]
    Failed { editor: String, status: String },
    #[error("Cannot start editor {editor:?}: {reason}")]
    Spawn { editor: String, reason: String },
    #[error("Editor file: {0}")]
    File(String),
    #[error("No terminal to lend to an editor here")]
    Unsupported,
}

/// `$VISUAL`, else `$EDITOR`, else [`FALLBACK_EDITOR`] (empty values count as unset).
/// The value is shell text: `code -w` and `emacs -nw` work.
pub fn editor_from_env() -> String {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(std::env::var_os)
        .map(|v| v.to_string_lossy().trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| FALLBACK_EDITOR.to_string())
}

/// The composer text for an edited file: valid UTF-8, CRLF made LF, and the one
/// trailing newline an editor adds on save taken off (more are the user's own).
pub fn text_from_file(bytes: &[u8]) -> Result<String, EditorError> {
    if bytes.len() > MAX_EDITED_BYTES {
        return Err(EditorError::TooBig { bytes: bytes.len() });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| EditorError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let text = text.replace("\r\n", "\n");
    Ok(match text.strip_suffix('\n') {
        Some(t) => t.to_string(),
        None => text,
    })
}

/// What goes in the file: the draft, ended by a newline as a text file is.
fn file_contents(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n")
    }
}

/// A file only we can read, new, in `dir`.
fn create_draft_file(dir: &Path, contents: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last_err = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "termim-draft-{}-{nanos}-{n}.txt",
            std::process::id()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                if let Err(e) = f.write_all(contents.as_bytes()).and_then(|()| f.flush()) {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free file name")))
}

/// Removes the draft file however the edit ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(unix)]
fn editor_process(editor: &str, path: &Path) -> tokio::process::Command {
    // Through the shell, so an editor given with arguments ("code -w") works; the path
    // is a positional parameter, never spliced into the script.
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg("termim")
        .arg(path);
    cmd
}

#[cfg(not(unix))]
fn editor_process(editor: &str, path: &Path) -> tokio::process::Command {
    let mut words = editor.split_whitespace();
    let mut cmd = tokio::process::Command::new(words.next().unwrap_or(FALLBACK_EDITOR));
    cmd.args(words).arg(path);
    cmd
}

/// Write `text` to a new file in `dir`, run `editor` on it (inheriting the terminal)
/// and wait, then read the file back and remove it. The caller hands the terminal
/// over first.
pub async fn edit_file(editor: &str, text: &str, dir: &Path) -> Result<Vec<u8>, EditorError> {
    let path = create_draft_file(dir, &file_contents(text))
        .map_err(|e| EditorError::File(format!("cannot create it in {}: {e}", dir.display())))?;
    let _remove = RemoveOnDrop(path.clone());
    let mut child = editor_process(editor, &path)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| EditorError::Spawn {
            editor: editor.to_string(),
            reason: e.to_string(),
        })?;
    let status = {
        // The terminal is in cooked mode now, so Ctrl-C or Ctrl-\ typed in the editor
        // signals termim too; only the editor should act on it (as git does). Set
        // after the spawn: the editor keeps the default handling.
        #[cfg(unix)]
        let _ignoring = IgnoreInterrupts::new();
        child.wait().await
    }
    .map_err(|e| EditorError::Spawn {
        editor: editor.to_string(),
        reason: e.to_string(),
    })?;
    if !status.success() {
        #[cfg(unix)]
        if status.code() == Some(127) {
            // The shell's "command not found".
            return Err(EditorError::NotFound {
                editor: editor.to_string(),
            });
        }
        return Err(EditorError::Failed {
            editor: editor.to_string(),
            status: exit_status(&status),
        });
    }
    tokio::fs::read(&path)
        .await
        .map_err(|e| EditorError::File(format!("cannot read it back: {e}")))
}

/// SIGINT and SIGQUIT ignored while it lives; the previous dispositions (a handler a
/// library installed, flags and all) come back when it is dropped.
#[cfg(unix)]
struct IgnoreInterrupts(Vec<(libc::c_int, libc::sigaction)>);

#[cfg(unix)]
impl IgnoreInterrupts {
    fn new() -> Self {
        let mut saved = Vec::new();
        for sig in [libc::SIGINT, libc::SIGQUIT] {
            // SAFETY: both structs are plain C data, fully initialised (zeroed, then
            // the handler and an empty mask set); sigaction only reads `ignore` and
            // writes `old`.
            unsafe {
                let mut ignore: libc::sigaction = std::mem::zeroed();
                ignore.sa_sigaction = libc::SIG_IGN;
                libc::sigemptyset(&mut ignore.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &ignore, &mut old) == 0 {
                    saved.push((sig, old));
                }
            }
        }
        Self(saved)
    }
}

#[cfg(unix)]
impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: `old` is what sigaction gave us for this signal.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

fn exit_status(status: &std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("status {code}");
    }
    #[cfg(unix)]
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(status) {
        return format!("signal {sig}");
    }
    status.to_string()
}

// ----- the reducer's side ------------------------------------------------------------

/// The editor key: save the draft as usual, then ask the loop to hand the composer's
/// text to the editor. Nothing without an open conversation.
pub fn open(app: &mut App) -> Vec<Effect> {
    let Some(conversation_id) = app.open.clone() else {
        return Vec::new();
    };
    let mut effects: Vec<Effect> = app.stash_draft().into_iter().collect();
    effects.push(Effect::EditExternally {
        conversation_id,
        text: app.composer_text(),
    });
    effects
}

/// The editor is done: its text replaces the draft (saved as a draft, not sent); on any
/// failure the draft stays as it was and the status line says why.
pub fn finished(
    app: &mut App,
    conversation_id: String,
    outcome: Result<Vec<u8>, EditorError>,
) -> Vec<Effect> {
    let text = match outcome.and_then(|bytes| text_from_file(&bytes)) {
        Ok(text) => text,
        Err(e) => {
            app.notify_error(format!("{e}; draft unchanged"));
            return Vec::new();
        }
    };
    if app.open.as_deref() != Some(conversation_id.as_str()) {
        // The conversation was left meanwhile: the text becomes its saved draft.
        return keep_as_draft(app, conversation_id, text);
    }
    app.focus = Focus::Composer;
    if text == app.composer_text() {
        app.notify("The editor changed nothing");
        return Vec::new();
    }
    app.set_composer_text(&text);
    let send = app
        .keymap
        .hint(&[Context::Composer, Context::Global], &Action::Send)
        .unwrap_or_else(|| "send".into());
    app.notify(format!("From the editor: review, then {send} sends"));
    app.stash_draft().into_iter().collect()
}

fn keep_as_draft(app: &mut App, conversation_id: String, text: String) -> Vec<Effect> {
    let cs = app.compose.entry(conversation_id.clone()).or_default();
    cs.draft = text.clone();
    cs.saved_draft = text.clone();
    let draft = (!text.trim().is_empty()).then_some(text);
    if let Some(i) = app.conv_index(&conversation_id) {
        app.conversations[i].draft_text = draft.clone();
    }
    app.notify("From the editor: kept as that conversation's draft");
    vec![Effect::SetDraft {
        conversation_id,
        text: draft,
    }]
}

/// Ctrl-Z: save the draft (a stopped process may never be resumed), then ask the loop
/// to suspend.
pub fn suspend(app: &mut App) -> Vec<Effect> {
    if !cfg!(unix) {
        app.notify_error("Suspending is not supported on this system");
        return Vec::new();
    }
    let mut effects: Vec<Effect> = app.stash_draft().into_iter().collect();
    effects.push(Effect::Suspend);
    effects
}

/// Back from a suspend; `error` says why it did not happen.
pub fn resumed(app: &mut App, error: Option<String>) -> Vec<Effect> {
    if let Some(e) = error {
        app.notify_error(format!("Could not suspend: {e}"));
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_taken_off_and_crlf_becomes_lf() {
        assert_eq!(text_from_file(b"hi\n").as_deref(), Ok("hi"));
        assert_eq!(text_from_file(b"hi\n\n").as_deref(), Ok("hi\n"));
        assert_eq!(text_from_file(b"a\r\nb\r\n").as_deref(), Ok("a\nb"));
        assert_eq!(text_from_file(b"").as_deref(), Ok(""));
        assert_eq!(
            text_from_file(b"ok\xff"),
            Err(EditorError::NotUtf8 { offset: 2 })
        );
    }

    #[test]
    fn the_draft_file_is_new_private_and_ends_with_a_newline() {
        let dir = std::env::temp_dir();
        let a = create_draft_file(&dir, &file_contents("你好")).expect("file");
        let b = create_draft_file(&dir, &file_contents("")).expect("file");
        let _ra = RemoveOnDrop(a.clone());
        let _rb = RemoveOnDrop(b.clone());
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).expect("read"), "你好\n".as_bytes());
        assert_eq!(std::fs::read(&b).expect("read"), b"");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
