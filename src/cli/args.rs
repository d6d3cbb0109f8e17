//! Command-line arguments (clap). No subcommand: the TUI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::server::ServerOptions;

pub const DEFAULT_PORT: u16 = 7878;

#[derive(Debug, Parser)]
#[command(
    name = "termim",
    version,
    about = "A terminal messenger with the V2TIM messaging model",
    long_about = "A terminal messenger with the V2TIM messaging model.\n\n\
        With no subcommand termim opens the full-screen messenger. Without --server it \
        uses the embedded server: a background process of this data directory's own, on a \
        free port of 127.0.0.1 (or the config's `listen`), started by the first termim that \
        finds none running and gone when no termim has used it for 30 s, with a demo \
        workspace on first start.",
    after_help = crate::cli::config_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Do not create the demo workspace when the embedded server starts for the first time.
    #[arg(long, global = true)]
    pub no_demo: bool,

    /// Config file (TOML) to use instead of the default one.
    #[arg(long, global = true, value_name = "FILE", env = "TERMIM_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to reach a server and as whom. Shared by the TUI and the scripting commands.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnArgs {
    /// Server URL, e.g. ws://127.0.0.1:7878, or wss://chat.example.org:7878 for TLS.
    /// Without it: the embedded server.
    #[arg(long, global = true, value_name = "URL", env = "TERMIM_SERVER")]
    pub server: Option<String>,

    /// For wss:// servers: also trust this CA certificate (PEM file), for a server whose
    /// certificate a private CA signed. The system's trusted roots are always used.
    #[arg(long, global = true, value_name = "PEM", env = "TERMIM_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// User id to log in as (default: the login name).
    #[arg(long, global = true, value_name = "ID", env = "TERMIM_USER")]
    pub user: Option<String>,

    /// UserSig to log in with (default: signed locally with the key in the data directory).
    #[arg(
        long,
        global = true,
        value_name = "SIG",
        env = "TERMIM_USERSIG",
        hide_env_values = true
    )]
    pub usersig: Option<String>,

    /// Data directory: the local cache, logs, and the embedded server's data and key.
    #[arg(long, global = true, value_name = "DIR", env = "TERMIM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print a UserSig for a user.
    Usersig(UsersigArgs),
    /// Send a message (text, or custom with --custom).
    Send(SendArgs),
    /// Print a conversation's history, newest last.
    History(HistoryArgs),
    /// List conversations.
    Conversations(JsonArg),
    /// Set custom data on one or more conversations.
    ConversationData(ConversationDataArgs),
    /// Create, join, leave and manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Stay connected and print each event as it arrives.
    Listen(JsonArg),
    /// Copy a SQLite server's data into an empty PostgreSQL database (stop the server
    /// first; then run `termim serve --database` on the copy).
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite server: sqlite:DATA_DIR (the server's data dir) or sqlite:FILE.
    #[arg(long, value_name = "sqlite:PATH")]
    pub from: String,
    /// The PostgreSQL database to fill: postgres://USER[:PASSWORD]@HOST[:PORT]/DB. It must
    /// be empty (its schema is created). TERMIM_MIGRATE_TO keeps a password out of `ps`.
    #[arg(
        long,
        value_name = "postgres://…",
        env = "TERMIM_MIGRATE_TO",
        hide_env_values = true
    )]
    pub to: String,
    /// JSON output: {"target", "tables": {table: rows}, "syncPos"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:7878].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub sig: SigLimitArgs,
    #[command(flatten)]
    pub limits: ServeLimits,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB for PostgreSQL (several
    /// server processes may share one), or sqlite:PATH. Default: SQLite in the data
    /// directory. A password here shows in `ps`: prefer TERMIM_DATABASE, or a ~/.pgpass-free
    /// trust/peer setup.
    #[arg(
        long,
        value_name = "URL",
        env = "TERMIM_DATABASE",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Run as a data directory's embedded default (termim starts it so; see
    /// `cli::embedded`): --data-dir is the termim data directory, and without --listen it
    /// takes a free port.
    #[arg(long, hide = true, conflicts_with_all = ["sdkappid", "secret", "tls_cert", "database"])]
    pub embedded: bool,
    /// The user whose termim started the embedded server (the demo workspace's own user).
    #[arg(long, hide = true, value_name = "ID", requires = "embedded")]
    pub demo_user: Option<String>,
}

/// `wss://`: the certificate and key `termim serve` serves TLS with (both or neither).
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Serve wss:// with this certificate (PEM file; the chain, leaf first). Needs
    /// --tls-key. Without both, the server speaks plain ws://.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM file: PKCS#8, RSA or EC). Needs --tls-cert.
    /// Keep it readable by the server's user only.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    pub fn files(&self) -> Option<crate::server::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::TlsFiles {
                cert_path: cert.clone(),
                key_path: key.clone(),
            }),
            _ => None,
        }
    }
}

/// What `termim serve` asks of UserSigs beyond a valid signature and expiry.
#[derive(Debug, Args)]
pub struct SigLimitArgs {
    /// Refuse UserSigs valid for longer than this (TLS.expire; 70003), seconds; 0
    /// accepts any. Default: 180 days, Tencent's and `termim usersig`'s default.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::usersig::DEFAULT_MAX_LIFETIME_SECS)]
    pub max_sig_lifetime: u64,
    /// Refuse UserSigs whose TLS.time is further ahead of this server's clock (70003),
    /// seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::usersig::DEFAULT_CLOCK_SKEW_SECS)]
    pub sig_clock_skew: u64,
    /// Once a session's UserSig expired, how long the client has to renew it
    /// (renewUserSig) before it is disconnected (close 4001), seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::server::DEFAULT_SIG_GRACE.as_secs())]
    pub sig_grace: u64,
}

impl SigLimitArgs {
    /// `options` with the UserSig limits these flags set.
    pub fn apply(&self, options: crate::server::ServerOptions) -> crate::server::ServerOptions {
        crate::server::ServerOptions {
            sig_verify: crate::usersig::VerifyOptions {
                max_lifetime_secs: (self.max_sig_lifetime > 0).then_some(self.max_sig_lifetime),
                clock_skew_secs: self.sig_clock_skew,
            },
            sig_grace: std::time::Duration::from_secs(self.sig_grace),
            ..options
        }
    }
}

/// What one client may hold of the server (docs/PROTOCOL.md, Limits). Behind a reverse
/// proxy every client has the proxy's address: raise the per-address cap there.
#[derive(Debug, Args)]
pub struct ServeLimits {
    /// Connections at once from one IP address, handshakes included; more are refused
    /// (HTTP 503) and established ones are not touched.
    #[arg(long, value_name = "N", default_value_t = ServerOptions::default().max_connections_per_ip,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections_per_ip: usize,
    /// Connections at once in total (kept below the open file limit, which the server
    /// raises to its hard limit).
    #[arg(long, value_name = "N", default_value_t = ServerOptions::default().max_connections,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// Seconds a client may take to complete the WebSocket handshake.
    #[arg(long, value_name = "SECONDS",
          default_value_t = ServerOptions::default().handshake_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout: u64,
    /// Seconds of silence (no frame, no pong) after which a logged-in connection is closed.
    #[arg(long, value_name = "SECONDS",
          default_value_t = ServerOptions::default().idle_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Bytes of output queued for a client that reads too slowly before it is closed
    /// (1008) to reconnect and sync.
    #[arg(long, value_name = "BYTES", default_value_t = ServerOptions::default().max_queued_bytes,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_queued_bytes: usize,
}

impl ServeLimits {
    /// The server's options with these limits.
    pub fn options(&self) -> ServerOptions {
        ServerOptions {
            max_connections_per_ip: self.max_connections_per_ip,
            max_connections: self.max_connections,
            handshake_timeout: Duration::from_secs(self.handshake_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_queued_bytes: self.max_queued_bytes,
            ..ServerOptions::default()
        }
    }
}

/// An explicit app key; without it, the one kept in the data directory.
#[derive(Debug, Args)]
#[group(skip)]
pub struct KeyArgs {
    /// SDKAppID (with a secret key); default: the one kept in the data directory.
    #[arg(long, value_name = "N", requires = "secret")]
    pub sdkappid: Option<u64>,
    /// Secret key (with --sdkappid). Visible to every local user in `ps` when given on
    /// the command line: prefer --secret-key-file or the TERMIM_SECRET_KEY environment
    /// variable. Default: generated once and kept in the data directory.
    #[arg(
        long,
        value_name = "KEY",
        requires = "sdkappid",
        env = "TERMIM_SECRET_KEY",
        hide_env_values = true,
        group = "secret"
    )]
    pub secret_key: Option<String>,
    /// Read the secret key (with --sdkappid) from this file (one line; surrounding
    /// white space is ignored). Keep it readable by the server's user only.
    #[arg(
        long,
        value_name = "PATH",
        requires = "sdkappid",
        group = "secret",
        conflicts_with = "secret_key"
    )]
    pub secret_key_file: Option<std::path::PathBuf>,
}

impl KeyArgs {
    /// The secret key given, from --secret-key / TERMIM_SECRET_KEY or --secret-key-file.
    pub fn secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.secret_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read the secret key from {}: {e}", path.display())
            })?;
            let key = text.trim();
            if key.is_empty() {
                anyhow::bail!("the secret key file {} is empty", path.display());
            }
            return Ok(Some(key.to_string()));
        }
        Ok(self.secret_key.clone())
    }
}

#[derive(Debug, Args)]
pub struct UsersigArgs {
    /// Seconds the sig stays valid (servers refuse more than their --max-sig-lifetime,
    /// 180 days by default).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::usersig::DEFAULT_EXPIRE_SECS)]
    pub expire: u64,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PriorityArg {
    Default,
    High,
    Normal,
    Low,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("dest").required(true).args(["to", "group"])))]
pub struct SendArgs {
    /// Send one-to-one to this user.
    #[arg(long, value_name = "USER")]
    pub to: Option<String>,
    /// Send to this group.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only these group members receive it (a targeted group message).
    #[arg(long, value_name = "U1,U2", value_delimiter = ',', requires = "group")]
    pub targets: Vec<String>,
    /// Send a custom message with this data instead of text.
    #[arg(long, value_name = "DATA")]
    pub custom: Option<String>,
    /// Custom message description (what offline push shows).
    #[arg(long, value_name = "D", requires = "custom")]
    pub desc: Option<String>,
    /// Custom message extension.
    #[arg(long, value_name = "E", requires = "custom")]
    pub ext: Option<String>,
    #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
    pub priority: PriorityArg,
    /// Deliver to online recipients only; never stored.
    #[arg(long)]
    pub online_only: bool,
    /// Do not count it as unread for the receivers.
    #[arg(long)]
    pub no_unread: bool,
    /// Do not make it the conversation's last message.
    #[arg(long)]
    pub no_last_message: bool,
    /// Ask for read receipts.
    #[arg(long)]
    pub read_receipt: bool,
    /// Allow message extensions on it.
    #[arg(long)]
    pub support_extension: bool,
    /// Cloud custom data: stored with the message and delivered.
    #[arg(long, value_name = "S")]
    pub cloud_data: Option<String>,
    /// Local custom data: kept on this device only, never sent.
    #[arg(long, value_name = "S")]
    pub local_data: Option<String>,
    /// Offline push title.
    #[arg(long, value_name = "T")]
    pub push_title: Option<String>,
    /// Offline push description.
    #[arg(long, value_name = "D")]
    pub push_desc: Option<String>,
    /// Print the sent message as JSON.
    #[arg(long)]
    pub json: bool,
    /// The text (text messages). "-" reads standard input.
    #[arg(value_name = "TEXT")]
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// c2c_<user> or group_<group>.
    #[arg(value_name = "CONVERSATION_ID")]
    pub conversation_id: String,
    /// How many of the newest messages.
    #[arg(long, default_value_t = 20)]
    pub count: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// JSON output with the V2TIM field names.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConversationDataArgs {
    #[arg(value_name = "CONVERSATION_ID", required = true)]
    pub conversation_ids: Vec<String>,
    /// The custom data (≤ 256 bytes; empty clears it).
    #[arg(long, value_name = "STRING")]
    pub data: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group; prints its id.
    Create {
        /// Work, Public, Meeting, AVChatRoom or Community.
        #[arg(long = "type", value_name = "TYPE")]
        group_type: String,
        #[arg(long)]
        name: String,
        /// Custom group id (default: assigned by the server).
        #[arg(long)]
        id: Option<String>,
        /// Initial members.
        #[arg(long, value_name = "U1,U2", value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Join a group.
    Join { group_id: String },
    /// Leave a group.
    Quit { group_id: String },
    /// Dismiss a group (owner).
    Dismiss { group_id: String },
    /// List a group's members.
    Members {
        group_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Invite users.
    Invite {
        group_id: String,
        #[arg(value_name = "U1,U2", value_delimiter = ',', required = true)]
        users: Vec<String>,
    },
    /// Remove members.
    Kick {
        group_id: String,
        #[arg(value_name = "U1,U2", value_delimiter = ',', required = true)]
        users: Vec<String>,
    },
    /// List the groups I am in.
    List {
        #[arg(long)]
        json: bool,
    },
}
