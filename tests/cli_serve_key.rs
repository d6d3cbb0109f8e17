//! Issue 10.8: the server's secret key need not be on the command line (where `ps` shows
//! it to every local user): `--secret-key-file` and `TERMIM_SECRET_KEY` work, and sigs
//! made with the same key log in.

mod serve_support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use serve_support::{BIN, Killed, client, ok};

const SDKAPPID: &str = "1400000123";
const KEY: &str = "a-secret-nobody-may-see-0123456789abcdef";

fn serve_with(args: &[&str], envs: &[(&str, &str)], dir: &std::path::Path) -> (Killed, String) {
    let (child, url) = serve_support::start_server_with(dir, "127.0.0.1:0", args, envs);
    (Killed(child), url)
}

fn sig_from_file(file: &std::path::Path, user: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "usersig",
            "--user",
            user,
            "--sdkappid",
            SDKAPPID,
            "--secret-key-file",
        ])
        .arg(file)
        .env_remove("TERMIM_SECRET_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn logs_in(url: &str, user: &str, sig: &str, data: &std::path::Path) {
    ok(
        client(url, user, sig, data, std::path::Path::new("/dev/null"))
            .args(["conversations", "--json"]),
    );
}

#[test]
fn the_secret_key_comes_from_a_file_or_the_environment_never_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("key");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "  {KEY}  ").unwrap();
    drop(f);

    let (server, url) = serve_with(
        &[
            "--sdkappid",
            SDKAPPID,
            "--secret-key-file",
            file.to_str().unwrap(),
        ],
        &[],
        &tmp.path().join("s1"),
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.0.id())).unwrap_or_default();
    assert!(
        !cmdline.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
        "the key is not in the server's command line"
    );
    logs_in(
        &url,
        "alice",
        &sig_from_file(&file, "alice"),
        &tmp.path().join("c1"),
    );
    drop(server);

    let (server, url) = serve_with(
        &["--sdkappid", SDKAPPID],
        &[("TERMIM_SECRET_KEY", KEY)],
        &tmp.path().join("s2"),
    );
    logs_in(
        &url,
        "bob",
        &sig_from_file(&file, "bob"),
        &tmp.path().join("c2"),
    );
    drop(server);

    // An empty or missing key file is refused in words.
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for bad in [&empty, &tmp.path().join("missing")] {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path().join("s3"))
            .args(["--sdkappid", SDKAPPID, "--secret-key-file"])
            .arg(bad)
            .env_remove("TERMIM_SECRET_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("secret key"), "{err}");
    }
}
