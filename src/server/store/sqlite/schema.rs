//! Schema and connection settings.
//!
//! Durability: WAL with `synchronous=NORMAL`. A commit survives a crash of the server
//! process (kill -9) — the WAL is in the OS page cache and SQLite replays it on open — but
//! the last commits before an OS crash or power loss may be rolled back (never corrupted).
//! `FULL` would fsync the WAL on every commit (~6k commits/s on the test box instead of
//! ~40k, see reference/server-anchors.md §1.9); with group commit the difference shrinks,
//! and `TERMIM_SQLITE_SYNC=FULL` in the environment switches to it.

use rusqlite::Connection;

/// 2: `group_members.mute_until`.
/// 3: `messages.cnum`, `user_conversations.own_unread`, `user_stream`.
pub const SCHEMA_VERSION: i64 = 3;

/// Tables. Messages are stored once (no per-member copies): who sees what is computed by
/// indexed queries from group membership, targets and per-user conversation state.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (
    user_id    TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per C2C pair ('c:' || a || ' ' || b with a <= b) or group ('g:' || group id):
-- an integer id keeps the message index small.
CREATE TABLE IF NOT EXISTS convs (
    conv_id INTEGER PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE
);

-- pos is the sync cursor: global, strictly increasing in commit order.
-- seq is per conversation, dense from 1.
CREATE TABLE IF NOT EXISTS messages (
    pos       INTEGER PRIMARY KEY,
    conv_id   INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    msg_id    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sender    TEXT NOT NULL,
    receiver  TEXT,
    group_id  TEXT,
    time      INTEGER NOT NULL,
    counted   INTEGER NOT NULL,   -- counts as unread for receivers
    nolast    INTEGER NOT NULL,   -- isExcludedFromLastMessage
    targeted  INTEGER NOT NULL,   -- visible only to sender + message_targets
    body      TEXT NOT NULL,      -- the Message as JSON, exactly as delivered
    cnum      INTEGER NOT NULL DEFAULT 0  -- counted messages of the conversation up to this one
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_conv_seq ON messages (conv_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_sender_client ON messages (sender, client_id);

-- The user's stream: one row per stored message the user was sent (C2C: both sides;
-- group: the members at the time, or the sender and the targets), in pos order. `sync`
-- reads a page of it; visibility (membership now, deletion) is checked on the way out.
CREATE TABLE IF NOT EXISTS user_stream (
    user_id TEXT NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (user_id, pos)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS message_targets (
    user_id TEXT NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (user_id, pos)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS groups (
    group_id    TEXT PRIMARY KEY,
    conv_id     INTEGER NOT NULL,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL,
    owner       TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    dismissed   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- join_seq: the group seq at which this membership began (its join tips, or 1).
-- mute_until: UTC seconds; the member may not send before then (0: not muted).
CREATE TABLE IF NOT EXISTS group_members (
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    role       INTEGER NOT NULL,
    join_seq   INTEGER NOT NULL,
    join_time  INTEGER NOT NULL,
    mute_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_user ON group_members (user_id, group_id);

-- Per-user conversation state (server-synced across devices).
-- read_seq: read up to here; cleared_seq: deleted up to here (hidden from this user);
-- activated: a pos that orders conversations without messages (join, creation).
-- own_unread: counted messages this user sent after its unread floor. Unread is then
-- cnum(last) - cnum(floor) - own_unread: a counter per conversation and one per row,
-- kept on store and on read, never a count over the messages.
CREATE TABLE IF NOT EXISTS user_conversations (
    owner       TEXT NOT NULL,
    conv        TEXT NOT NULL,
    conv_id     INTEGER NOT NULL,
    peer        TEXT,
    group_id    TEXT,
    pinned      INTEGER NOT NULL DEFAULT 0,
    custom_data TEXT NOT NULL DEFAULT '',
    read_seq    INTEGER NOT NULL DEFAULT 0,
    read_time   INTEGER NOT NULL DEFAULT 0,
    cleared_seq INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    activated   INTEGER NOT NULL DEFAULT 0,
    own_unread  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, conv)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_conversations_conv_id ON user_conversations (owner, conv_id);
CREATE INDEX IF NOT EXISTS user_conversations_with_data
    ON user_conversations (owner) WHERE custom_data != '';
"#;

/// Settings for every connection.
fn configure(db: &Connection) -> rusqlite::Result<()> {
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match std::env::var("TERMIM_SQLITE_SYNC").as_deref() {
        Ok("FULL") | Ok("full") => "FULL",
        _ => "NORMAL",
    };
    db.pragma_update(None, "synchronous", sync)?;
    db.pragma_update(None, "foreign_keys", "OFF")?;
    db.pragma_update(None, "temp_store", "MEMORY")?;
    db.pragma_update(None, "cache_size", -16_000i64)?; // ~16 MB per connection
    db.set_prepared_statement_cache_capacity(64);
    // Query-planner stability: a cached statement keeps its plan when rebound. Without it
    // (STAT4 is compiled in) binding a new seq or cursor marks a range query for
    // re-preparing at its next step — a third of a sync's time went to re-parsing.
    db.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Open the writer's connection and create the schema.
pub fn open_writer(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    configure(&db)?;
    db.execute_batch(SCHEMA)?;
    migrate(&db)?;
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )?;
    // Checkpoints (which fsync) run on the checkpointer thread, never inside a commit of
    // the writer: see `sqlite::Checkpointer`.
    db.pragma_update(None, "wal_autocheckpoint", 0i64)?;
    // When the writer restarts the WAL, a file grown past this is cut back to it.
    db.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    Ok(db)
}

/// Open the checkpointer's connection.
pub fn open_checkpointer(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.pragma_update(None, "wal_autocheckpoint", 0i64)?;
    Ok(db)
}

/// Bring a database made by an older version up to this schema (additive changes only).
fn migrate(db: &Connection) -> rusqlite::Result<()> {
    let has_mute: bool = db.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('group_members') WHERE name = 'mute_until')",
        [],
        |r| r.get(0),
    )?;
    if !has_mute {
        db.execute_batch(
            "ALTER TABLE group_members ADD COLUMN mute_until INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    if !has_column(db, "messages", "cnum")? {
        db.execute_batch(MIGRATE_3)?;
    }
    Ok(())
}

fn has_column(db: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        [table, column],
        |r| r.get(0),
    )
}

/// Version 2 → 3, in one transaction: the counters and the stream, computed once from
/// what is stored (the stream from today's memberships: what a member could see); group
/// tips move to the server's id namespace (`rules::server_message_key`), out of the
/// clients' way.
const MIGRATE_3: &str = r#"
BEGIN;
ALTER TABLE messages ADD COLUMN cnum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_conversations ADD COLUMN own_unread INTEGER NOT NULL DEFAULT 0;
WITH c AS (SELECT pos, SUM(counted) OVER (PARTITION BY conv_id ORDER BY seq) AS n FROM messages)
UPDATE messages SET cnum = c.n FROM c WHERE c.pos = messages.pos;
UPDATE user_conversations SET own_unread = (
    SELECT COUNT(*) FROM messages m WHERE m.conv_id = user_conversations.conv_id
    AND m.sender = user_conversations.owner AND m.counted = 1
    AND m.seq > MAX(user_conversations.read_seq, user_conversations.cleared_seq));
UPDATE messages SET client_id = 'tips ' || pos
    WHERE client_id = 'tips-' || pos AND group_id IS NOT NULL;
INSERT OR IGNORE INTO user_stream (user_id, pos)
    SELECT sender, pos FROM messages WHERE group_id IS NULL;
INSERT OR IGNORE INTO user_stream (user_id, pos)
    SELECT receiver, pos FROM messages WHERE group_id IS NULL AND receiver IS NOT NULL;
INSERT OR IGNORE INTO user_stream (user_id, pos)
    SELECT sender, pos FROM messages WHERE group_id IS NOT NULL;
INSERT OR IGNORE INTO user_stream (user_id, pos)
    SELECT t.user_id, t.pos FROM message_targets t;
INSERT OR IGNORE INTO user_stream (user_id, pos)
    SELECT gm.user_id, m.pos FROM messages m JOIN group_members gm ON gm.group_id = m.group_id
    WHERE m.targeted = 0;
COMMIT;
"#;

/// Open a read connection (after the writer created the schema).
pub fn open_reader(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.pragma_update(None, "query_only", "ON")?;
    db.pragma_update(None, "cache_size", -16_000i64)?;
    db.set_prepared_statement_cache_capacity(64);
    Ok(db)
}

/// The conversation key of a C2C pair (order-independent).
pub fn c2c_key(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("c:{x} {y}")
}

/// The conversation key of a group.
pub fn group_key(group_id: &str) -> String {
    format!("g:{group_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_gains_mute_until() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE group_members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, \
                 role INTEGER NOT NULL, join_seq INTEGER NOT NULL, join_time INTEGER NOT NULL, \
                 PRIMARY KEY (group_id, user_id)) WITHOUT ROWID; \
                 INSERT INTO group_members VALUES ('g', 'alice', 400, 1, 5);",
            )
            .unwrap();
        }
        let db = open_writer(&path).unwrap();
        let mute: i64 = db
            .query_row(
                "SELECT mute_until FROM group_members WHERE user_id = 'alice'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(mute, 0);
        let version: String = db
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        drop(db);
        // Opening again is a no-op.
        open_writer(&path).unwrap();
    }
}
