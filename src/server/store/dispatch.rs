//! After a commit: answer each command and deliver its effects, in commit order.
//!
//! The writer is a plain thread. Waking a tokio task from it is a cross-thread wake-up
//! (often a futex call); doing that for every answer and every push cost the writer about
//! a tenth of its time under load. So the writer hands each committed batch, in one piece,
//! to one dispatcher task on the runtime: one wake-up per batch, and the answers and pushes
//! then wake their tasks from inside the runtime, where that is cheap.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::server::error::OpError;
use crate::server::store::{CommitSink, Data, Effect, Reply, WriteRequest};

/// What travels on a writer's queue.
pub(in crate::server::store) enum WriterMsg {
    Req(WriteRequest),
    /// Apply what is queued, commit, and stop.
    Stop,
}

/// An engine's writer, as the shared writer loop drives it.
pub(in crate::server::store) trait BatchWriter {
    /// Apply these commands in one transaction, answer them, hand on their effects.
    fn apply_batch(&mut self, batch: Vec<WriteRequest>);
    /// Between two batches, with no transaction open (SQLite restarts its WAL there).
    fn between_batches(&mut self) {}
}

/// The writer thread's loop, for every engine: what is queued (up to `max` commands) is
/// one batch, until `Stop` or the queue closes; then new commands are refused and those
/// already queued are applied, `max` at a time.
pub(in crate::server::store) fn run_writer(
    writer: &mut dyn BatchWriter,
    rx: &mut mpsc::Receiver<WriterMsg>,
    max: usize,
) {
    let mut stop = false;
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::new();
        match first {
            WriterMsg::Req(r) => batch.push(r),
            WriterMsg::Stop => stop = true,
        }
        while !stop && batch.len() < max {
            match rx.try_recv() {
                Ok(WriterMsg::Req(r)) => batch.push(r),
                Ok(WriterMsg::Stop) => stop = true,
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            writer.apply_batch(batch);
        }
        writer.between_batches();
    }
    rx.close();
    let mut rest = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        if let WriterMsg::Req(r) = msg {
            rest.push(r);
        }
    }
    while !rest.is_empty() {
        let n = rest.len().min(max);
        writer.apply_batch(rest.drain(..n).collect());
    }
}

/// One command's answer and pushes.
pub(in crate::server::store) struct Outcome {
    pub reply: Reply,
    pub result: Result<Data, OpError>,
    pub effects: Vec<Effect>,
}

fn deliver(sink: &dyn CommitSink, batch: Vec<Outcome>) {
    for Outcome {
        reply,
        result,
        effects,
    } in batch
    {
        reply.send(result);
        if !effects.is_empty() {
            sink.deliver(effects);
        }
    }
}

/// Where the writer sends committed batches.
pub(in crate::server::store) enum Dispatch {
    /// To the dispatcher task.
    Task(mpsc::UnboundedSender<Vec<Outcome>>),
    /// Delivered on the writer thread itself (no tokio runtime when the store was opened,
    /// or the dispatcher is gone).
    Inline(Arc<dyn CommitSink>),
}

impl Dispatch {
    /// Start the dispatcher task when there is a runtime to run it on.
    pub(in crate::server::store) fn start(sink: Arc<dyn CommitSink>) -> Self {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Dispatch::Inline(sink);
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Outcome>>();
        runtime.spawn(async move {
            // Ends when the writer drops its sender, after the last batch.
            while let Some(batch) = rx.recv().await {
                deliver(&*sink, batch);
            }
        });
        Dispatch::Task(tx)
    }

    pub(in crate::server::store) fn send(&self, batch: Vec<Outcome>) {
        match self {
            Dispatch::Task(tx) => {
                if let Err(mpsc::error::SendError(batch)) = tx.send(batch) {
                    // The runtime is shutting down: answer from here rather than drop.
                    for o in batch {
                        o.reply.send(o.result);
                    }
                }
            }
            Dispatch::Inline(sink) => deliver(&**sink, batch),
        }
    }
}
