//! The PostgreSQL backend: one writer thread per server process with group commit, a
//! small capped pool of read connections — and several server processes on one database.
//!
//! Nothing a process keeps in memory is trusted against another process: every write
//! transaction first locks the one-row `sync_pos` counter (so write transactions of all
//! processes apply one after the other, in the order of that lock, and commit in it),
//! then reads what it decides on — memberships, seqs, read marks — inside the
//! transaction. Sync positions are handed out under that lock (strictly increasing in
//! commit order), seqs under the conversation row's lock (dense), and `(sender, client
//! id)` is a unique key (a resend through another process finds the stored message). A
//! conflict with another process (a unique violation, a serialization failure, a
//! deadlock) is retried, not shown to the user.
//!
//! The `postgres` crate is synchronous (it runs its own small runtime per connection), so
//! a connection is only ever used from the writer's thread and from `spawn_blocking`
//! reads, never from an async task — and never dropped in one (see [`PgStore`]'s `Drop`).

mod import;
mod queries;
mod schema;
mod writer;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use tokio::sync::mpsc;

use crate::model::{
    Conversation, ConversationId, ConversationResult, ConversationTarget, GroupInfo,
    GroupMemberInfoResult, limits, sort_conversations,
};
use crate::protocol::{GetGroupMemberListParams, GetHistoryParams, GroupInfoResult, codes};
use crate::server::error::OpError;
use crate::server::store::{CommitSink, Data, Store, StoreError, StoreOptions, WriteRequest};

use crate::server::store::dispatch::WriterMsg;
use writer::Writer;

pub use schema::SCHEMA_VERSION;

/// Commands that may wait for the writer before senders are slowed down.
const WRITE_QUEUE: usize = 16 * 1024;
/// Read connections one process opens at most (more reads wait for one to be free).
const MAX_READERS: usize = 8;

/// Is `url` a PostgreSQL connection URL (`postgres://…` or `postgresql://…`)?
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `HOST:PORT/DB` of a connection URL, without user or password: what the start-up line
/// and the errors name.
pub fn describe(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Parse a connection URL (the error names no password).
pub fn parse_url(url: &str) -> Result<postgres::Config, StoreError> {
    let mut config = postgres::Config::from_str(url).map_err(|e| {
        StoreError::Other(format!(
            "the PostgreSQL URL does not parse ({e}); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("termim");
    }
    Ok(config)
}

/// A database error becomes 20005 with a sentence that names no internals; the detail
/// goes to the log. An integrity violation is the command's own (nothing of it was
/// saved, the database is fine); anything else is the database failing.
impl From<postgres::Error> for OpError {
    fn from(e: postgres::Error) -> Self {
        let own = e
            .code()
            .is_some_and(|c| c.code().starts_with("23") || c.code().starts_with("22"));
        if own {
            tracing::error!("postgres refused a command's writes: {e}");
            OpError::internal(
                "the server could not store this request (it conflicts with what is stored); \
                 nothing was saved",
            )
        } else {
            tracing::error!("postgres error: {e}");
            OpError {
                storage_failed: true,
                ..OpError::internal(
                    "the server could not read or write its database; nothing was saved: retry",
                )
            }
        }
    }
}

/// Would the same command succeed when tried again? (It met another process's
/// concurrent write, not a refusal of its own.)
pub(super) fn is_conflict(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::UNIQUE_VIOLATION
        || *code == SqlState::LOCK_NOT_AVAILABLE
}

/// One connection with its prepared statements (the `postgres` crate has no statement
/// cache of its own), remembering the SQLSTATE of its last error so the writer can tell
/// a conflict from a failure after the error became an [`OpError`].
pub struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    last_error: Option<SqlState>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    fn connect(config: &postgres::Config) -> Result<Self, postgres::Error> {
        let client = config.connect(NoTls)?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
            last_error: None,
        })
    }

    fn note<T>(&mut self, r: Result<T, postgres::Error>) -> Result<T, postgres::Error> {
        if let Err(e) = &r {
            self.last_error = e.code().cloned();
        }
        r
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.client.prepare(sql);
        let s = self.note(prepared)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        let r = self.client.query(&s, params);
        self.note(r)
    }

    pub fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        let r = self.client.query_opt(&s, params);
        self.note(r)
    }

    pub fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, postgres::Error> {
        let s = self.statement(sql)?;
        let r = self.client.query_one(&s, params);
        self.note(r)
    }

    pub fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        let r = self.client.execute(&s, params);
        self.note(r)
    }

    /// Statements without parameters (transaction control, DDL).
    pub fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        let r = self.client.batch_execute(sql);
        self.note(r)
    }

    fn take_error(&mut self) -> Option<SqlState> {
        self.last_error.take()
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// Read connections: opened on demand up to [`MAX_READERS`], kept for reuse.
struct ReadPool {
    config: postgres::Config,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

impl ReadPool {
    /// Run `f` on a pooled connection. A connection the database closed since it was
    /// pooled (a restart, a terminated backend) fails its first use: then `f` runs once
    /// more on a new one, so the reader does not see the broken connection.
    fn with<R>(&self, mut f: impl FnMut(&mut Conn) -> Result<R, OpError>) -> Result<R, OpError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let (result, closed) = self.once(&mut f)?;
            if closed && result.is_err() && tries < 2 {
                continue;
            }
            return result;
        }
    }

    /// One run of `f`; `Err` when no connection could be had. Also says whether the
    /// connection was found closed afterwards.
    fn once<R>(
        &self,
        f: &mut impl FnMut(&mut Conn) -> Result<R, OpError>,
    ) -> Result<(Result<R, OpError>, bool), OpError> {
        let unavailable = || OpError {
            storage_failed: true,
            ..OpError::internal("the server cannot reach its database; retry")
        };
        let pooled = {
            let mut state = self.state.lock().map_err(|_| unavailable())?;
            loop {
                if let Some(c) = state.idle.pop() {
                    break Some(c);
                }
                if state.open < MAX_READERS {
                    state.open += 1;
                    break None;
                }
                state = self.freed.wait(state).map_err(|_| unavailable())?;
            }
        };
        let mut db = match pooled {
            Some(db) => db,
            None => match Conn::connect(&self.config) {
                Ok(db) => db,
                Err(e) => {
                    self.release(None);
                    tracing::error!("postgres: cannot open a read connection: {e}");
                    return Err(unavailable());
                }
            },
        };
        let result = f(&mut db);
        let closed = db.is_closed();
        self.release((!closed).then_some(db));
        Ok((result, closed))
    }

    fn release(&self, db: Option<Conn>) {
        if let Ok(mut state) = self.state.lock() {
            match db {
                Some(db) => state.idle.push(db),
                None => state.open = state.open.saturating_sub(1),
            }
        }
        self.freed.notify_one();
    }
}

pub use import::ImportReport;

/// `termim migrate`: copy the SQLite database at `sqlite_db` into the empty PostgreSQL
/// database at `url` (its schema created first), all or nothing, counts checked. Returns
/// the target's description (no password) and what was copied. Blocking.
pub fn import_sqlite(
    sqlite_db: &std::path::Path,
    url: &str,
) -> Result<(String, ImportReport), StoreError> {
    if !sqlite_db.is_file() {
        return Err(StoreError::Other(format!(
            "no termim server database at {} (--from names the server's data dir or its \
             database file)",
            sqlite_db.display()
        )));
    }
    let config = parse_url(url)?;
    let description = describe(&config);
    let mut db = Conn::connect(&config).map_err(|e| {
        StoreError::Other(format!(
            "cannot connect to PostgreSQL at {description}: {e}"
        ))
    })?;
    let version = schema::migrate(&mut db)?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Other(format!(
            "the database {description} has schema version {version}; this termim knows \
             versions up to {SCHEMA_VERSION}: upgrade termim"
        )));
    }
    let report = import::import_sqlite(sqlite_db, &mut db)?;
    Ok((description, report))
}

pub struct PgStore {
    queue: mpsc::Sender<WriterMsg>,
    readers: ReadPool,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    description: String,
}

impl PgStore {
    /// Connect, create or migrate the schema, and start the writer thread. Blocking.
    pub fn open(
        url: &str,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let config = parse_url(url)?;
        let description = describe(&config);
        let unreachable = |e: postgres::Error| {
            StoreError::Other(format!(
                "cannot connect to PostgreSQL at {description}: {e}"
            ))
        };
        let mut db = Conn::connect(&config).map_err(unreachable)?;
        let version = schema::migrate(&mut db)?;
        if version != SCHEMA_VERSION {
            return Err(StoreError::Other(format!(
                "the database {description} has schema version {version}; this termim knows \
                 versions up to {SCHEMA_VERSION}: upgrade termim"
            )));
        }
        writer::configure_session(&mut db)?;
        let writer = Writer::new(db, config.clone(), sink, options);
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        let handle = std::thread::Builder::new()
            .name("termim-pg-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self {
            queue,
            readers: ReadPool {
                config,
                state: Mutex::new(PoolState::default()),
                freed: Condvar::new(),
            },
            writer: Mutex::new(Some(handle)),
            description,
        })
    }

    /// `HOST:PORT/DB`.
    pub fn description(&self) -> &str {
        &self.description
    }
}

fn shutting_down() -> OpError {
    OpError::internal("the server is shutting down")
}

/// A `nextSeq` this server handed out (an offset), `""` or `"0"` being the first page.
fn parse_offset(next_seq: &str) -> Result<u64, OpError> {
    match next_seq {
        "" => Ok(0),
        s => s.parse().map_err(|_| {
            OpError::invalid(format!(
                "nextSeq {s:?} is not one this server handed out (use \"0\" for the first page)"
            ))
        }),
    }
}

impl Store for PgStore {
    fn submit(&self, request: WriteRequest) -> BoxFuture<'_, Result<(), OpError>> {
        Box::pin(async move {
            self.queue
                .send(WriterMsg::Req(request))
                .await
                .map_err(|_| shutting_down())
        })
    }

    fn max_cursor(&self) -> Result<u64, OpError> {
        self.readers.with(|db| {
            let row = db.query_one("SELECT COALESCE(MAX(pos), 0)::BIGINT FROM messages", &[])?;
            Ok(row.try_get::<_, i64>(0)?.max(0) as u64)
        })
    }

    fn history(&self, user: &str, params: &GetHistoryParams) -> Result<Data, OpError> {
        self.readers.with(|db| queries::history(db, user, params))
    }

    fn sync(&self, user: &str, cursor: u64, count: u32) -> Result<Data, OpError> {
        self.readers
            .with(|db| queries::sync(db, user, cursor, count))
    }

    fn conversation_list(
        &self,
        user: &str,
        next_seq: &str,
        count: u32,
    ) -> Result<ConversationResult, OpError> {
        let offset = usize::try_from(parse_offset(next_seq)?).unwrap_or(usize::MAX);
        let count = queries::page_size(count) as usize;
        let mut list = self.readers.with(|db| {
            let mut list = Vec::new();
            for row in queries::conv_rows(db, user)? {
                if let Some(c) = queries::build_conversation(db, user, &row)? {
                    list.push(c);
                }
            }
            Ok(list)
        })?;
        sort_conversations(&mut list);
        let total = list.len();
        let page: Vec<Conversation> = list.into_iter().skip(offset).take(count).collect();
        let end = offset.saturating_add(page.len());
        Ok(ConversationResult {
            next_seq: end.to_string(),
            is_finished: end >= total,
            conversation_list: page,
        })
    }

    fn conversation(&self, user: &str, conversation_id: &str) -> Result<Conversation, OpError> {
        self.readers.with(|db| {
            let group = match ConversationId::parse(conversation_id) {
                Some(ConversationTarget::C2c(peer)) => {
                    if !crate::model::is_valid_user_id(&peer) || !queries::user_exists(db, &peer)? {
                        return Err(OpError::new(
                            codes::ERR_INVALID_CONVERSATION,
                            format!("no such conversation: user {peer:?} has no account"),
                        ));
                    }
                    None
                }
                Some(ConversationTarget::Group(group_id)) => {
                    Some(queries::live_group(db, &group_id, user, true)?.0)
                }
                None => return Err(queries::invalid_conversation(conversation_id)),
            };
            if let Some(row) = queries::conv_row(db, user, conversation_id)?
                && let Some(c) = queries::build_conversation(db, user, &row)?
            {
                return Ok(c);
            }
            Ok(crate::server::domain::conversations::empty_conversation(
                conversation_id,
                group.as_ref().map(|g| g.group_type),
                group.as_ref().map(|g| g.name.as_str()),
            ))
        })
    }

    fn total_unread(&self, user: &str) -> Result<u64, OpError> {
        self.readers.with(|db| {
            let mut total = 0;
            for row in queries::conv_rows(db, user)? {
                total += queries::row_unread(db, user, &row)?;
            }
            Ok(total)
        })
    }

    fn joined_groups(&self, user: &str) -> Result<Vec<GroupInfo>, OpError> {
        self.readers.with(|db| queries::joined_groups(db, user))
    }

    fn groups_info(
        &self,
        user: &str,
        group_ids: &[String],
    ) -> Result<Vec<GroupInfoResult>, OpError> {
        if group_ids.len() > limits::CONVERSATION_BATCH_MAX {
            return Err(OpError::group_invalid(format!(
                "at most {} group ids per request; {} given",
                limits::CONVERSATION_BATCH_MAX,
                group_ids.len()
            )));
        }
        self.readers.with(|db| {
            let mut out = Vec::with_capacity(group_ids.len());
            for id in group_ids {
                let item = match queries::live_group(db, id, user, false) {
                    Ok((g, me)) => GroupInfoResult {
                        group_id: id.clone(),
                        result_code: codes::OK,
                        result_message: String::new(),
                        group_info: Some(queries::group_info(db, &g, me)?),
                    },
                    Err(e) if e.code == codes::ERR_SVR_COMM_INTERNAL => return Err(e),
                    Err(e) => GroupInfoResult {
                        group_id: id.clone(),
                        result_code: e.code,
                        result_message: e.desc,
                        group_info: None,
                    },
                };
                out.push(item);
            }
            Ok(out)
        })
    }

    fn group_members(
        &self,
        user: &str,
        params: &GetGroupMemberListParams,
    ) -> Result<GroupMemberInfoResult, OpError> {
        let offset = parse_offset(&params.next_seq)?;
        let count = queries::page_size(params.count);
        self.readers.with(|db| {
            queries::live_group(db, &params.group_id, user, true)?;
            let (list, next) =
                queries::group_members(db, &params.group_id, params.filter, offset, count)?;
            Ok(GroupMemberInfoResult {
                next_seq: next.map_or_else(|| "0".to_string(), |n| n.to_string()),
                member_info_list: list,
            })
        })
    }

    fn close(&self) {
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            // The writer applies what is queued before the stop, commits and exits.
            let _ = self.queue.blocking_send(WriterMsg::Stop);
            if handle.join().is_err() {
                tracing::error!("the postgres writer thread panicked");
            }
        }
        self.drop_readers();
    }
}

impl PgStore {
    /// Close the idle read connections on a thread of their own: a `postgres::Client`
    /// blocks on its own runtime when dropped, which panics inside an async task — and
    /// the last reference to the store may well go away in one.
    fn drop_readers(&self) {
        let idle = match self.readers.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.idle),
            Err(_) => return,
        };
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("termim-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self.queue.try_send(WriterMsg::Stop);
        self.drop_readers();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_names_host_port_and_database_but_no_password() {
        let config = parse_url("postgres://termim:s3cret@db.example.org:6543/chat").unwrap();
        assert_eq!(describe(&config), "db.example.org:6543/chat");
        let config = parse_url("postgresql://termim@127.0.0.1/termim").unwrap();
        assert_eq!(describe(&config), "127.0.0.1:5432/termim");
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let Err(StoreError::Other(e)) = parse_url("postgres://termim:s3cret@host:notaport/db")
        else {
            panic!("a bad port parses");
        };
        assert!(!e.contains("s3cret"), "{e}");
    }
}
