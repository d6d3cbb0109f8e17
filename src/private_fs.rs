//! Private files and directories: everything termim keeps on disk (databases, caches,
//! logs, the app key) is its user's alone — directories 0700, files 0600 on Unix.
//!
//! Modes are given at creation (so no file is ever readable by others, not even for a
//! moment) instead of changing the process umask, which would also reach what a user
//! saves through the TUI's editor and every library's files. What an older termim created
//! with looser modes is tightened when it is opened: group and other permission bits are
//! removed, the owner's are kept.
//!
//! SQLite creates a database's `-wal`, `-shm` and `-journal` files with the mode of the
//! database file, so a database prepared with [`prepare_sqlite`] keeps all of them private.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of a directory termim creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of a file termim creates.
pub const FILE_MODE: u32 = 0o600;

/// Permission bits that make something readable or writable by others.
#[cfg(unix)]
const SHARED_BITS: u32 = 0o077;

/// Create `dir` and any missing parents with mode 0700, and tighten `dir` itself if it
/// exists with group or other bits. (Existing parents are left as they are: they may be
/// the user's, like `~/.local/share`.)
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    tighten(dir)
}

/// Open a file, creating it (when `options` allow) with mode 0600, and tighten it if it
/// already existed with group or other bits.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    restrict_file(&file, path)?;
    Ok(file)
}

/// Make sure the file at `path` exists and is private: created empty with mode 0600, or
/// tightened. Its content is left alone.
pub fn prepare_file(path: &Path) -> io::Result<()> {
    open(path, OpenOptions::new().write(true).create(true)).map(drop)
}

/// Prepare the SQLite database at `path` before `Connection::open`: its directory is
/// created private, the file exists with mode 0600 (an empty file is an empty database),
/// and journal files left by an older version are tightened.
pub fn prepare_sqlite(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    prepare_sqlite_file(path)
}

/// [`prepare_sqlite`] for a database the operator placed (`--database sqlite:PATH`): its
/// directory is created when missing but, when it exists, left as it is (it may be
/// `/var/lib` or `/tmp`); the files are private.
pub fn prepare_sqlite_at(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        create_dir_all(dir)?;
    }
    prepare_sqlite_file(path)
}

fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    prepare_file(path)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match tighten(Path::new(&side)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(unix)]
fn tightened(mode: u32) -> Option<u32> {
    let mode = mode & 0o7777;
    (mode & SHARED_BITS != 0).then_some(mode & !SHARED_BITS)
}

/// Remove group and other bits from what is at `path` (a directory or a file), as an
/// older version may have left it.
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path)?;
        if let Some(mode) = tightened(meta.permissions().mode()) {
            let done = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
            not_ours_is_fine(done, path)?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn restrict_file(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = file.metadata()?;
        if let Some(mode) = tightened(meta.permissions().mode()) {
            let done = file.set_permissions(std::fs::Permissions::from_mode(mode));
            not_ours_is_fine(done, path)?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

/// Only the owner may change a mode. Something another user owns and shares with us on
/// purpose (a server directory of an operator's group) is used as it is, with a warning.
#[cfg(unix)]
fn not_ours_is_fine(done: io::Result<()>, path: &Path) -> io::Result<()> {
    match done {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::warn!(path = %path.display(), "cannot make private (not its owner): {e}");
            Ok(())
        }
        other => other,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_and_tightens_what_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let db = dir.join("x.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::write(dir.join("x.db-wal"), b"").unwrap();
        for p in [&db, &dir.join("x.db-wal")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare_sqlite(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.join("x.db-wal")), 0o600);
        assert!(!dir.join("x.db-shm").exists());

        // Owner bits are the owner's choice: a read-only file stays read-only.
        let ro = dir.join("ro");
        std::fs::write(&ro, b"k").unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
        open(&ro, OpenOptions::new().read(true)).unwrap();
        assert_eq!(mode(&ro), 0o400);
    }

    #[test]
    fn sqlite_journal_files_follow_the_database_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("data/t.db");
        prepare_sqlite(&db).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for name in ["t.db", "t.db-wal", "t.db-shm"] {
            assert_eq!(mode(&tmp.path().join("data").join(name)), 0o600, "{name}");
        }
    }
}
