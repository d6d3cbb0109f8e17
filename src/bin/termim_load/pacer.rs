//! Precise send times for the open-loop senders.
//!
//! tokio's timer has a 1 ms resolution: a sleep until `t` ends at the first tick after
//! `t`, so every send left 0–1 ms late (p50 ≈ 0.9 ms measured), and that lateness is part
//! of every "from schedule" latency — for termim and the floor alike. At latency-test
//! rates the senders instead ask one pacer thread to wake them: it sleeps on a channel
//! with a timeout (a high-resolution timer in the kernel) until the earliest due send, and
//! wakes that sender then (tens of µs late instead of up to a millisecond). At throughput
//! rates the tokio timer is used: there a millisecond is noise next to the queueing, and
//! tens of thousands of cross-thread wake-ups a second would cost the generator CPU the
//! server shares.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

/// Rates (messages/s, all senders together) up to which the pacer thread is used.
pub const PRECISE_MAX_RATE: u64 = 10_000;

struct Due {
    at: Instant,
    n: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.n) == (other.at, other.n)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.n).cmp(&(other.at, other.n))
    }
}

/// How senders wait for their next send time.
#[derive(Clone)]
pub enum Timer {
    Tokio,
    Precise(Arc<Pacer>),
}

impl Timer {
    /// The pacer for latency-test rates, tokio's timer above [`PRECISE_MAX_RATE`].
    pub fn for_rate(rate: u64) -> Self {
        if rate <= PRECISE_MAX_RATE {
            Timer::Precise(Pacer::start())
        } else {
            Timer::Tokio
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Timer::Tokio => "tokio timer (1 ms resolution)",
            Timer::Precise(_) => "pacer thread (µs resolution)",
        }
    }

    pub async fn sleep_until(&self, at: tokio::time::Instant) {
        match self {
            Timer::Tokio => tokio::time::sleep_until(at).await,
            Timer::Precise(p) => p.sleep_until(at.into_std()).await,
        }
    }
}

pub struct Pacer {
    tx: std::sync::Mutex<mpsc::Sender<Due>>,
    next: std::sync::atomic::AtomicU64,
}

impl Pacer {
    pub fn start() -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Due>();
        std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || run(rx))
            .unwrap_or_else(|e| panic!("cannot start the pacer thread: {e}"));
        Arc::new(Pacer {
            tx: std::sync::Mutex::new(tx),
            next: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queued = self
            .tx
            .lock()
            .map(|tx| tx.send(Due { at, n, wake }).is_ok())
            .unwrap_or(false);
        if queued {
            let _ = woken.await;
        } else {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

fn run(rx: mpsc::Receiver<Due>) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    loop {
        let received = match heap.peek() {
            Some(Reverse(first)) => {
                rx.recv_timeout(first.at.saturating_duration_since(Instant::now()))
            }
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(due) => heap.push(Reverse(due)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if heap.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(Reverse(first)) = heap.peek() {
                    std::thread::sleep(first.at.saturating_duration_since(Instant::now()));
                }
            }
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(due)) = heap.pop() {
                let _ = due.wake.send(());
            }
        }
    }
}
