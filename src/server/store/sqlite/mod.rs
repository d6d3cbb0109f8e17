//! The SQLite backend: one writer thread with group commit, a small pool of read
//! connections. The database is `<data_dir>/termim.db` (WAL mode).

mod queries;
pub(crate) mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rusqlite::Connection;
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

/// The database file inside the data directory.
pub const DB_FILE: &str = "termim.db";
/// Commands that may wait for the writer before senders are slowed down.
const WRITE_QUEUE: usize = 16 * 1024;
/// Idle read connections kept open.
const IDLE_READERS: usize = 4;

/// Read connections, opened on demand and kept for reuse.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> Result<R, OpError>) -> Result<R, OpError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut db = match pooled {
            Some(db) => db,
            None => schema::open_reader(&self.path)?,
        };
        let result = f(&mut db);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(db);
        }
        result
    }
}

pub struct SqliteStore {
    queue: mpsc::Sender<WriterMsg>,
    readers: ReadPool,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    checkpointer: Checkpointer,
}

/// How often the checkpointer copies the WAL into the database while it keeps up (a
/// no-op when idle).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// How soon it goes again while frames are still waiting to be copied.
const CATCH_UP_PAUSE: Duration = Duration::from_millis(5);
/// Frames left uncopied after a pass that count as falling behind.
const BEHIND_FRAMES: i64 = 256;
/// WAL frames (16,384 × 4 KiB = 64 MiB) beyond which the writer restarts the log.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Copies the WAL back into the database file from its own thread and connection.
///
/// SQLite's automatic checkpoint would run inside whichever commit crosses the threshold —
/// on the writer thread, with two fsyncs (several ms each on the test box), stalling every
/// command queued behind it. A PASSIVE checkpoint from another connection runs alongside
/// the writer instead (WAL mode lets it), so the writer's commits never wait for a disk
/// flush under `synchronous=NORMAL`.
///
/// SQLite starts writing the WAL from its beginning again only when a write transaction
/// begins after a checkpoint copied *every* frame — which never happens while the writer
/// commits without pause (at 40,000 messages/s the WAL grew by 200 MB a second, without
/// bound). So once the WAL is past [`WAL_RESTART_FRAMES`], the checkpointer asks the
/// writer to finish the job between two batches (`Writer::restart_wal`): by then the
/// checkpointer has copied all but the last few milliseconds of frames, so the writer's
/// own checkpoint is short, and then its next batch restarts the log.
struct Checkpointer {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    handle: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Checkpointer {
    fn start(
        path: PathBuf,
        restart_wal: Arc<AtomicBool>,
        restart_frames: i64,
    ) -> Result<Self, StoreError> {
        let db = schema::open_checkpointer(&path)?;
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("termim-checkpoint".into())
            .spawn(move || {
                let (lock, wake) = &*flag;
                let Ok(mut stopped) = lock.lock() else {
                    return;
                };
                let mut behind = false;
                while !*stopped {
                    let pause = if behind {
                        CATCH_UP_PAUSE
                    } else {
                        CHECKPOINT_EVERY
                    };
                    stopped = match wake.wait_timeout(stopped, pause) {
                        Ok((guard, _)) => guard,
                        Err(_) => return,
                    };
                    if *stopped {
                        break;
                    }
                    // Copies what no reader still needs; the writer goes on meanwhile.
                    // The answer: (busy, frames in the WAL, frames copied).
                    let pass = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match pass {
                        Ok((frames, copied)) => {
                            behind = frames - copied > BEHIND_FRAMES;
                            if frames > restart_frames {
                                restart_wal.store(true, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            behind = false;
                            tracing::warn!("checkpoint failed: {e}");
                        }
                    }
                }
            })?;
        Ok(Self {
            stop,
            handle: Mutex::new(Some(handle)),
        })
    }

    fn stop(&self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }
}

impl SqliteStore {
    /// Open (or create) the database in `data_dir` and start the writer thread.
    pub fn open(data_dir: &Path, sink: Arc<dyn CommitSink>) -> Result<Self, StoreError> {
        Self::open_with(data_dir, sink, StoreOptions::default())
    }

    /// [`Self::open`] with the writer's policies.
    pub fn open_with(
        data_dir: &Path,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        // The database and its -wal/-shm are the server's alone (0600 in a 0700 directory).
        crate::private_fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DB_FILE);
        crate::private_fs::prepare_sqlite(&path)?;
        Self::open_prepared(path, sink, options)
    }

    /// [`Self::open_with`] on a database file of any name and place (`--database
    /// sqlite:PATH`; the default is `<data_dir>/termim.db`).
    pub fn open_file(
        path: &Path,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        crate::private_fs::prepare_sqlite_at(path)?;
        Self::open_prepared(path.to_path_buf(), sink, options)
    }

    fn open_prepared(
        path: PathBuf,
        sink: Arc<dyn CommitSink>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let restart_wal = Arc::new(AtomicBool::new(false));
        let restart_frames = options.wal_restart_frames.unwrap_or(WAL_RESTART_FRAMES);
        let writer = Writer::open(&path, sink, options, restart_wal.clone())?;
        // After the writer: it creates the schema.
        let checkpointer = Checkpointer::start(path.clone(), restart_wal, restart_frames)?;
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        let handle = std::thread::Builder::new()
            .name("termim-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self {
            checkpointer,
            queue,
            readers: ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
            },
            writer: Mutex::new(Some(handle)),
        })
    }
}

fn shutting_down() -> OpError {
    OpError::internal("the server is shutting down")
}

impl Store for SqliteStore {
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
            let max: i64 = db.query_row("SELECT COALESCE(MAX(pos), 0) FROM messages", [], |r| {
                r.get(0)
            })?;
            Ok(max as u64)
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
        let offset: usize = match next_seq {
            "" => 0,
            s => s.parse().map_err(|_| {
                OpError::invalid(format!(
                    "nextSeq {s:?} is not one this server handed out (use \"0\" for the first page)"
                ))
            })?,
        };
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
        let offset: u64 = match params.next_seq.as_str() {
            "" => 0,
            s => s.parse().map_err(|_| {
                OpError::invalid(format!(
                    "nextSeq {s:?} is not one this server handed out (use \"0\" for the first page)"
                ))
            })?,
        };
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
        self.checkpointer.stop();
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            // The writer applies what is queued before the stop, commits and exits.
            let _ = self.queue.blocking_send(WriterMsg::Stop);
            if handle.join().is_err() {
                tracing::error!("the writer thread panicked");
            }
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.stop();
        let _ = self.queue.try_send(WriterMsg::Stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TextElem;
    use crate::protocol::SendMessageParams;
    use crate::server::store::{Effect, Reply, SendCmd, SendTarget, WriteCmd};
    use tokio::sync::oneshot;

    struct NoPushes;
    impl CommitSink for NoPushes {
        fn deliver(&self, _: Vec<Effect>) {}
    }

    async fn write(store: &SqliteStore, cmd: WriteCmd) -> oneshot::Receiver<Result<Data, OpError>> {
        let (tx, rx) = oneshot::channel();
        store
            .submit(WriteRequest {
                cmd,
                reply: Reply::Channel(tx),
            })
            .await
            .expect("queued");
        rx
    }

    /// Without the restart, a writer that never pauses grows the WAL by every page it
    /// writes (it reached gigabytes under load): here it must stay a small part of that.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_writes_without_pause() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            wal_restart_frames: Some(64),
            ..StoreOptions::default()
        };
        let store = SqliteStore::open_with(dir.path(), Arc::new(NoPushes), options).unwrap();
        for user in ["a", "b"] {
            let cmd = WriteCmd::EnsureUser {
                user: user.into(),
                now: 1,
            };
            write(&store, cmd).await.await.unwrap().unwrap();
        }
        let text = "x".repeat(4000);
        let mut answers = Vec::new();
        for k in 0..6000 {
            let params = SendMessageParams {
                id: format!("m{k}"),
                receiver: "b".into(),
                elem_type: 1,
                text_elem: Some(TextElem { text: text.clone() }),
                ..SendMessageParams::default()
            };
            let cmd = WriteCmd::Send(Box::new(SendCmd {
                sender: "a".into(),
                conn: 1,
                target: SendTarget::C2c {
                    receiver: "b".into(),
                },
                params,
                now: 1,
            }));
            answers.push(write(&store, cmd).await);
            // Keep the queue full, so the writer goes from batch to batch without pause.
            if answers.len() == 128 {
                for a in answers.drain(..) {
                    a.await.unwrap().unwrap();
                }
            }
        }
        for a in answers {
            a.await.unwrap().unwrap();
        }
        let size = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len());
        // The WAL as the writes left it; the database once everything is checkpointed into
        // it at close (before that, how much of it is still in the WAL depends on how far
        // the checkpointer got on a loaded machine).
        let wal = size(&format!("{DB_FILE}-wal"));
        tokio::task::block_in_place(|| store.close());
        let db = size(DB_FILE);
        // 6,000 × 4 KB written: the database holds about 24 MB.
        assert!(db > 20 << 20, "database {db} bytes");
        // Without the restarts the WAL ends larger than the database (it holds every
        // page ever written); with them, what a few hundred milliseconds of writing adds
        // between two checkpoint passes (6–9 MB here).
        eprintln!("WAL {wal} bytes, database {db} bytes");
        assert!(
            wal < db * 3 / 4,
            "WAL {wal} bytes next to a database of {db} bytes"
        );
    }
}
