//! `termim-load serve`: the real termim server in its own process.

use std::io::Write as _;

use termim::server::{self, Rate, ServerConfig, ServerOptions};

use super::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

fn rate(per_sec: Option<u32>, burst_factor: u32, default: Option<Rate>) -> Option<Rate> {
    match per_sec {
        None => default,
        Some(0) => None,
        Some(n) => Some(Rate::new(n, n.saturating_mul(burst_factor))),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let defaults = ServerOptions::default();
    let options = ServerOptions {
        request_rate: rate(args.request_rate, 2, defaults.request_rate),
        group_send_rate: rate(args.group_rate, 1, defaults.group_send_rate),
        max_queued_bytes: args.max_queued_bytes.unwrap_or(defaults.max_queued_bytes),
        max_connections_per_ip: args.max_connections_per_ip.unwrap_or(usize::MAX),
        max_connections: args.max_connections.unwrap_or(usize::MAX),
        conversation_write_rate: rate(args.conversation_rate, 2, defaults.conversation_write_rate),
        max_groups_per_user: args.max_groups.unwrap_or(defaults.max_groups_per_user),
        ..defaults
    };
    server::raise_open_file_limit();
    let handle = server::start_with_options(
        ServerConfig {
            listen: args.listen,
            data_dir: args.data_dir.clone(),
            sdk_app_id: None,
            secret_key: None,
            database: args.database.clone(),
        },
        options,
    )
    .await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {} pid {}", handle.url(), std::process::id())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
