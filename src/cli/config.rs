//! The user's config file (TOML) and where termim keeps its files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `config.toml`: every key is optional.
///
/// ```toml
/// server = "ws://chat.example.org:7878"   # default: the embedded server
/// ca_cert = "/etc/termim/ca.pem"          # wss://: also trust this CA (PEM)
/// user = "alice"                          # default: the login name
/// listen = "127.0.0.1:7878"               # the embedded server's address (default: a free port)
///
/// [theme]                                 # override any style (see assets/theme.toml)
/// accent = "magenta"
///
/// [keymap.global]                         # override any action's keys (assets/keymap.toml)
/// quit = ["ctrl-q"]
///
/// [clipboard]
/// osc52 = false                           # `y` copies via OSC 52 unless this is false
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Option<String>,
    /// A CA certificate (PEM file) to trust for `wss://` besides the system's roots.
    pub ca_cert: Option<PathBuf>,
    pub user: Option<String>,
    /// Where the embedded server listens; `None`: a free port of 127.0.0.1.
    pub listen: Option<std::net::SocketAddr>,
    pub theme: toml::Table,
    pub data_dir: Option<PathBuf>,
    pub keymap: toml::Table,
    pub clipboard: ClipboardConfig,
}

/// `[clipboard]`: how `y` copies a message.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipboardConfig {
    /// Copy through the terminal with OSC 52 (default on). Turn it off for a
    /// terminal that prints the sequence instead of taking it.
    pub osc52: bool,
}

impl Default for ClipboardConfig {
    fn default() -> Self {
        Self { osc52: true }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Load `path`; a missing default file is an empty config, a missing explicit one an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|message| ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "termim")
}

/// The default config file: `<config dir>/termim/config.toml`.
pub fn default_config_path() -> PathBuf {
    project_dirs()
        .map(|d| d.config_dir().join("config.toml"))
        .unwrap_or_else(|| PathBuf::from("termim-config.toml"))
}

/// The default data directory: `<data dir>/termim`.
pub fn default_data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".termim"))
}

/// Where things live inside a data directory.
#[derive(Debug, Clone)]
pub struct DataLayout {
    pub root: PathBuf,
}

impl DataLayout {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    /// The embedded server's database and key.
    pub fn server_dir(&self) -> PathBuf {
        self.root.join("server")
    }
    /// The SDK's per-user caches.
    pub fn client_dir(&self) -> PathBuf {
        self.root.join("client")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_keys_and_refuses_unknown_ones() {
        let cfg = Config::parse(
            "server = \"ws://x:1\"\nuser = \"alice\"\nlisten = \"127.0.0.1:9\"\n[keymap.global]\nquit = [\"ctrl-q\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.server.as_deref(), Some("ws://x:1"));
        assert_eq!(cfg.user.as_deref(), Some("alice"));
        assert_eq!(cfg.listen.unwrap().port(), 9);
        assert!(cfg.keymap.contains_key("global"));
        let err = Config::parse("sever = \"typo\"").unwrap_err();
        assert!(err.contains("sever"), "{err}");
    }

    #[test]
    fn clipboard_osc52_is_on_unless_turned_off() {
        assert!(Config::parse("").unwrap().clipboard.osc52);
        assert!(Config::parse("[clipboard]\n").unwrap().clipboard.osc52);
        let off = Config::parse("[clipboard]\nosc52 = false\n").unwrap();
        assert!(!off.clipboard.osc52);
        let err = Config::parse("[clipboard]\nosc_52 = false\n").unwrap_err();
        assert!(err.contains("osc_52"), "{err}");
    }

    #[test]
    fn missing_default_file_is_empty_but_missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        assert!(Config::load(&path, false).unwrap().server.is_none());
        assert!(matches!(
            Config::load(&path, true),
            Err(ConfigError::Read { .. })
        ));
    }
}
