//! The binary's edge: arguments, config, logging, and the non-interactive commands.

pub mod args;
pub mod commands;
pub mod config;
pub mod demo;
pub mod embedded;
pub mod output;
pub mod session;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;

use args::{Cli, Command, UsersigArgs};
use config::{Config, default_config_path};
use session::Endpoint;

/// Text appended to `--help`: where the config file is.
pub fn config_help() -> String {
    format!(
        "Config file: {}\nData directory: {}",
        default_config_path().display(),
        config::default_data_dir().display()
    )
}

/// `YYYY-MM-DD hh:mm` (UTC), for the scripting commands' plain output.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::tui::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Entry point of the `termim` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::warn(&format!("termim: cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output has what it wanted (`| head -1`): not an error.
        Err(e) if output::is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors may quote the server or other users: `warn` neutralises them.
            output::warn(&format!("termim: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    match &cli.config {
        Some(path) => Ok(Config::load(path, true)?),
        None => Ok(Config::load(&default_config_path(), false)?),
    }
}

/// Logs go to a file (never the screen, which the TUI owns). `TERMIM_LOG` sets the filter.
/// Logging is best effort: a data directory that cannot be written does not stop termim.
/// Logs name users and conversations: the directory is 0700 and the file 0600.
fn init_logging(dir: &std::path::Path, name: &str) {
    if crate::private_fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(file) = crate::private_fs::open(
        &dir.join(name),
        std::fs::OpenOptions::new().create(true).append(true),
    ) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERMIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

/// The client's part of the data directory is private (0700) whatever created it: the
/// SDK's caches live under it. Best effort, like logging: the SDK reports what matters.
fn private_data_dirs(layout: &config::DataLayout) {
    for dir in [&layout.root, &layout.client_dir()] {
        if let Err(e) = crate::private_fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), "cannot make the data directory private: {e}");
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // The embedded server is told everything on its command line by the termim that
    // starts it (which has read the config already).
    let embedded_server = matches!(&cli.command, Some(Command::Serve(a)) if a.embedded);
    let cfg = if embedded_server {
        Config::default()
    } else {
        load_config(&cli)?
    };
    let Cli {
        conn,
        no_demo,
        command,
        ..
    } = cli;
    let demo = !no_demo;
    match command {
        Some(Command::Serve(args)) if args.embedded => {
            let root = conn
                .data_dir
                .clone()
                .context("serve --embedded needs --data-dir")?;
            init_logging(
                &config::DataLayout::new(root.clone()).log_dir(),
                "embedded-server.log",
            );
            let result = embedded::serve(embedded::EmbeddedOptions {
                root,
                listen: args.listen,
                demo_user: args.demo_user,
                demo,
            })
            .await;
            if let Err(e) = &result {
                tracing::error!("embedded server: {e:#}");
            }
            result
        }
        Some(Command::Serve(args)) => {
            let endpoint = Endpoint::resolve(&conn, &cfg, demo)?;
            let data_dir = conn
                .data_dir
                .clone()
                .unwrap_or_else(|| endpoint.layout.server_dir());
            init_logging(&data_dir, "server.log");
            let options = crate::server::ServerOptions {
                tls: args.tls.files(),
                ..args.sig.apply(args.limits.options())
            };
            crate::server::serve_until_signal(
                crate::server::ServerConfig {
                    listen: args
                        .listen
                        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], args::DEFAULT_PORT))),
                    data_dir,
                    sdk_app_id: args.key.sdkappid,
                    secret_key: args.key.secret()?,
                    database: args.database.clone(),
                },
                options,
            )
            .await
        }
        Some(Command::Usersig(args)) => usersig(&conn, &cfg, args),
        Some(Command::Migrate(args)) => migrate(args).await,
        Some(Command::Send(args)) => {
            with_session(&conn, demo, &cfg, |tim| Box::pin(commands::send(tim, args))).await
        }
        Some(Command::History(args)) => {
            with_session(&conn, demo, &cfg, |tim| {
                Box::pin(commands::history(tim, args))
            })
            .await
        }
        Some(Command::Conversations(args)) => {
            with_session(&conn, demo, &cfg, |tim| {
                Box::pin(commands::conversations(tim, args))
            })
            .await
        }
        Some(Command::ConversationData(args)) => {
            with_session(&conn, demo, &cfg, |tim| {
                Box::pin(commands::conversation_data(tim, args))
            })
            .await
        }
        Some(Command::Group(cmd)) => {
            with_session(&conn, demo, &cfg, |tim| Box::pin(commands::group(tim, cmd))).await
        }
        Some(Command::Listen(args)) => {
            let signer = Endpoint::resolve(&conn, &cfg, demo)?.signer();
            with_session(&conn, demo, &cfg, |tim| {
                Box::pin(commands::listen(tim, args, signer))
            })
            .await
        }
        None => {
            let endpoint = Endpoint::resolve(&conn, &cfg, demo)?;
            init_logging(&endpoint.layout.log_dir(), "termim.log");
            private_data_dirs(&endpoint.layout);
            launch_tui(&endpoint, &cfg).await
        }
    }
}

/// The messenger: connect (starting the embedded server if needed), run the TUI, log out.
async fn launch_tui(endpoint: &Endpoint, cfg: &Config) -> anyhow::Result<()> {
    use crate::tui::{App, Clock, Keymap, SdkEvent, Theme, run, runner::SdkRunner};
    // Config mistakes are reported before the terminal is taken over.
    let keymap = Keymap::load(Some(&cfg.keymap)).context("in the config's [keymap]")?;
    let theme = Theme::load(Some(&cfg.theme)).context("in the config's [theme]")?;
    let session = session::connect_ui(endpoint).await?;
    let tim = session.tim.clone();
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let _ = events_tx.send(SdkEvent::ConnectionChanged(tim.connection_state()));
    let mut sdk_events = tim.add_listener();
    let forward = tokio::spawn(async move {
        while let Some(event) = sdk_events.recv().await {
            if events_tx.send(event).is_err() {
                break;
            }
        }
    });
    let clock = Clock::new(run::system_now(), run::detect_utc_offset());
    let mut app = App::new(tim.login_user(), keymap, theme, clock);
    app.clipboard.osc52 = cfg.clipboard.osc52;
    let mut runner = SdkRunner::new(tim.clone());
    if let Some(signer) = endpoint.signer() {
        app.can_sign = true;
        runner = runner.with_signer(signer);
    }
    let result = run::run(app, runner, events_rx, run::RunOptions::default()).await;
    forward.abort();
    session.close().await;
    result.map(|_| ()).map_err(|e| anyhow::anyhow!("{e}"))
}

type CommandFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>>;

/// Log in (starting the embedded server if needed), run one command, log out.
async fn with_session<F>(
    conn: &args::ConnArgs,
    demo: bool,
    cfg: &Config,
    f: F,
) -> anyhow::Result<()>
where
    F: for<'a> FnOnce(&'a crate::sdk::Tim) -> CommandFuture<'a>,
{
    let endpoint = Endpoint::resolve(conn, cfg, demo)?;
    init_logging(&endpoint.layout.log_dir(), "termim-cli.log");
    private_data_dirs(&endpoint.layout);
    let session = session::connect(&endpoint).await?;
    // Commands read the local cache (as V2TIM's getters do): let it catch up first.
    if !session
        .tim
        .wait_synced(std::time::Duration::from_secs(30))
        .await
    {
        tracing::warn!("sync did not finish within 30 s; the answer may be incomplete");
        output::warn(
            "termim: warning: could not finish syncing with the server; output may be incomplete",
        );
    }
    let result = f(&session.tim).await;
    session.close().await;
    result
}

fn usersig(conn: &args::ConnArgs, cfg: &Config, args: UsersigArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::resolve(conn, cfg, false)?;
    let key = match (args.key.sdkappid, args.key.secret()?) {
        (Some(sdk_app_id), Some(secret_key)) => crate::usersig::AppKey {
            sdk_app_id,
            secret_key,
        },
        _ => {
            let dir = match &conn.data_dir {
                // A server's own data dir (`termim serve --data-dir DIR`) holds the key directly.
                Some(d) if crate::usersig::AppKey::path(d).exists() => d.clone(),
                _ => endpoint.layout.server_dir(),
            };
            crate::usersig::AppKey::load(&dir).with_context(|| {
                format!("no app key in {} (give --sdkappid and --secret-key, or the server's --data-dir)", dir.display())
            })?
        }
    };
    output::line(&crate::usersig::gen_sig(&key, &endpoint.user, args.expire))
}

/// `termim migrate --from sqlite:… --to postgres://…`.
async fn migrate(args: args::MigrateArgs) -> anyhow::Result<()> {
    let Some(path) = args.from.strip_prefix("sqlite:") else {
        anyhow::bail!(
            "--from {:?}: give the SQLite server as sqlite:DATA_DIR or sqlite:FILE",
            args.from
        );
    };
    let mut path = std::path::PathBuf::from(path);
    if path.is_dir() {
        path = path.join(crate::server::store::sqlite::DB_FILE);
    }
    let to = args.to.clone();
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        anyhow::bail!("--to: give the PostgreSQL database as postgres://USER@HOST[:PORT]/DB");
    }
    let started = std::time::Instant::now();
    let (target, report) = tokio::task::spawn_blocking(move || {
        crate::server::store::postgres::import_sqlite(&path, &to)
    })
    .await
    .context("the copy stopped")?
    .context("migrate: nothing was copied")?;
    if args.json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| (t.clone(), serde_json::Value::from(*n)))
            .collect();
        println!(
            "{}",
            serde_json::json!({"target": target, "tables": tables, "syncPos": report.sync_pos})
        );
    } else {
        println!(
            "copied into {target} in {:.1} s, every count checked:",
            started.elapsed().as_secs_f64()
        );
        for (table, rows) in &report.tables {
            println!("  {table:<20} {rows:>12}");
        }
        println!(
            "  sync cursor at {} (clients' cursors stay valid)",
            report.sync_pos
        );
        println!(
            "next: termim serve --database <the --to URL>, with the same --data-dir (or \
             --sdkappid and key) as before, so every UserSig stays valid"
        );
    }
    Ok(())
}
