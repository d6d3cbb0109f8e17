//! The pieces of `termim-load`: `serve` and `floor` (the servers under test) and the
//! scenarios (`c2c`, `fanout`, `idle`, `catch-up`, `soak`, `abuse`), which start their server as
//! a child process and drive it from this one.

mod abuse;
mod bench;
mod client;
mod floor;
mod pacer;
mod serve;
mod soak;
mod target;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "termim-load",
    about = "Load generator and test servers for termim"
)]
pub struct Cli {
    /// Tokio worker threads of the load generator itself.
    #[arg(long, global = true, default_value_t = 2)]
    pub gen_workers: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a termim server on a data dir until SIGTERM / Ctrl-C. Prints
    /// `listening ws://ADDR pid PID` on stdout once it accepts connections.
    Serve(ServeArgs),
    /// Run the bare WebSocket forwarder (no auth, no storage): the transport's floor.
    Floor(FloorArgs),
    /// C2C messages at a fixed rate (latency), or as many as the server takes (throughput).
    C2c(bench::C2cArgs),
    /// One group, many online members: deliveries per second and their latency.
    Fanout(bench::FanoutArgs),
    /// Many idle authenticated connections: login rate, server RSS, idle CPU.
    Idle(bench::IdleArgs),
    /// An offline user's catch-up through `sync`.
    CatchUp(bench::CatchUpArgs),
    /// Long C2C load with connection churn: memory, descriptors, latency over time, and
    /// an end-to-end audit (nothing lost or duplicated).
    Soak(soak::SoakArgs),
    /// One user's send latency while an abuser runs (issue 10 items 1–4), phase by phase:
    /// quiet, history flood, unauthenticated junk, pin toggling, clean-all, sync flood,
    /// half-open handshakes.
    Abuse(abuse::AbuseArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Requests per second per connection (burst: twice that); 0 = unlimited.
    #[arg(long)]
    pub request_rate: Option<u32>,
    /// sendMessage per second per group (burst: the same); 0 = unlimited.
    #[arg(long)]
    pub group_rate: Option<u32>,
    /// Bytes of output queued per connection before it counts as too slow.
    #[arg(long)]
    pub max_queued_bytes: Option<usize>,
    /// Connections at once from one address. Default: no cap (the load generator opens
    /// all its connections from one address).
    #[arg(long)]
    pub max_connections_per_ip: Option<usize>,
    /// Connections at once in total. Default: no cap but the open file limit.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Conversation changes (read marks, pins, deletes, custom data) per second per user
    /// (burst: twice that); 0 = unlimited.
    #[arg(long)]
    pub conversation_rate: Option<u32>,
    /// Groups one user may be in.
    #[arg(long)]
    pub max_groups: Option<usize>,
    /// The database (`termim serve --database`): a postgres:// URL, or sqlite:PATH.
    /// Default: SQLite in the data dir.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct FloorArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let generator = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.gen_workers.max(1))
            .enable_all()
            .build()
    };
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Floor(args) => floor::run(args),
        Command::C2c(args) => generator()?.block_on(bench::c2c(args)),
        Command::Fanout(args) => generator()?.block_on(bench::fanout(args)),
        Command::Idle(args) => generator()?.block_on(bench::idle(args)),
        Command::CatchUp(args) => generator()?.block_on(bench::catch_up(args)),
        Command::Soak(args) => generator()?.block_on(soak::soak(args)),
        Command::Abuse(args) => generator()?.block_on(abuse::abuse(args)),
    }
}
