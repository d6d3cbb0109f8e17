//! termim-load: a load generator for the termim server, in its own process, plus the
//! servers it measures: `serve` (termim on a data dir, with tunable limits) and `floor`
//! (a bare tokio-tungstenite echo/broadcast server: no auth, no storage — the transport's
//! own limit). docs/PERFORMANCE.md has the scenarios, the numbers and the commands.

mod termim_load;

use clap::Parser as _;

/// The same allocator as `termim` (the servers it starts run in this binary).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = termim_load::Cli::parse();
    termim_load::run(cli)
}
