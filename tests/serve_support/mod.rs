//! `termim serve` as a child process, for tests that drive the real binary: start it,
//! read where it listens, sign UserSigs with the key in its data dir.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_termim");

/// Every line `pipe` gives, as it comes, from a thread of its own.
pub fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// `termim serve --listen LISTEN --data-dir DIR`, once it says where it listens: the
/// child and its `ws://` URL. Its stderr keeps being drained.
pub fn start_server(dir: &Path, listen: &str) -> (Child, String) {
    start_server_with(dir, listen, &[], &[])
}

/// [`start_server`] with more arguments and environment variables (`TERMIM_SECRET_KEY`
/// is taken from `envs` only).
pub fn start_server_with(
    dir: &Path,
    listen: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Child, String) {
    let (child, url, _said) = start_server_saying(dir, listen, args, envs);
    (child, url)
}

/// [`start_server_with`], also giving what it printed up to and including the line that
/// says where it listens (its warnings, its start-up line).
pub fn start_server_saying(
    dir: &Path,
    listen: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Child, String, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir)
        .args(args)
        .env_remove("TERMIM_SERVER")
        .env_remove("TERMIM_SECRET_KEY")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("termim serve starts");
    let rx = lines_of(child.stderr.take().expect("piped stderr"));
    let mut said = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("termim serve prints where it listens; it said {said:?}"));
        said.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in rx {});
    (child, url, said)
}

/// A UserSig for `user`, signed with the key in the server's data dir.
pub fn usersig(server_dir: &Path, user: &str) -> String {
    let out = Command::new(BIN)
        .args(["usersig", "--user", user, "--data-dir"])
        .arg(server_dir)
        .output()
        .expect("termim usersig runs");
    assert!(out.status.success(), "usersig: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `termim ARGS…` as `user` of the server at `url`, its connection given the way a script
/// gives it: by environment variables (`TERMIM_SERVER`, `…_USER`, `…_USERSIG`,
/// `…_DATA_DIR`, `…_CONFIG`). Add the subcommand and its arguments.
pub fn client(url: &str, user: &str, sig: &str, data_dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("TERMIM_SERVER", url)
        .env("TERMIM_USER", user)
        .env("TERMIM_USERSIG", sig)
        .env("TERMIM_DATA_DIR", data_dir)
        .env("TERMIM_CONFIG", config)
        .stdin(Stdio::null());
    cmd
}

/// Run `cmd`, which must succeed; its standard output.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("termim runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_default()
}
