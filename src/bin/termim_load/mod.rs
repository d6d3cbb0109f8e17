//! The pieces of `termim-load`.

mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "termim-load",
    about = "Load generator and test servers for termim"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a termim server on a data dir until SIGTERM / Ctrl-C. Prints
    /// `listening ws://ADDR pid PID` on stdout once it accepts connections.
    Serve(ServeArgs),
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
    /// Frames queued per connection before it counts as too slow.
    #[arg(long)]
    pub outbound_queue: Option<usize>,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
    }
}
