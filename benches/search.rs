//! Local message search benchmark: `search_local_messages` on the TUI benchmarks' data
//! set (1,000 conversations, 200,000 cached messages, mixed English / Chinese / emoji;
//! see `benches/support`), through the public SDK, as the TUI's search overlay calls it.
//!
//! `cargo bench --bench search` (the data set is built on the first run). Prints, per
//! query, the time of one call (median / mean / max of `TERMIM_BENCH_RUNS`, default 30,
//! after 2 warm-up calls) and what it found; then, on a copy of the cache, how long a
//! cache made before search existed takes to gain the search table when it is opened;
//! and, for comparison, the same keywords through an FTS5 trigram index over the same
//! rows (built on the copy only: termim does not ship it).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use termim::sdk::{KeywordListMatchType, MessageSearchParam, SdkConfig, Tim};
use termim::server::{self, ServerConfig};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

async fn login(url: &str, key: &termim::usersig::AppKey, dir: &Path) -> (Tim, Duration) {
    let sig = termim::usersig::gen_sig(key, support::ME, 3600);
    let t = Instant::now();
    let tim = Tim::login(
        SdkConfig {
            server_url: url.to_string(),
            data_dir: dir.to_path_buf(),
            ca_cert_pem: None,
        },
        support::ME,
        &sig,
    )
    .await
    .expect("login");
    (tim, t.elapsed())
}

fn copy_cache(from: &Path, to: &Path) {
    support::copy_user_cache(&from.join(support::ME), &to.join(support::ME));
}

fn main() {
    let root = support::ensure_populated();
    let runs = support::env_count("TERMIM_BENCH_RUNS", 30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "termim local search: {} conversations, {} cached messages; {}; load average {}",
        support::CONVERSATIONS,
        support::MESSAGES,
        support::machine(),
        support::load_average()
    );
    let top = format!("c2c_{}", support::peer(0));
    let all = |kw: &[&str]| MessageSearchParam {
        keyword_list: words(kw),
        ..Default::default()
    };
    let queries: Vec<(&str, MessageSearchParam)> = vec![
        ("all chats, no match (\"xyzzy\")", all(&["xyzzy"])),
        ("all chats, \"ok\" (1 in 6 messages)", all(&["ok"])),
        ("all chats, \"爬山\"", all(&["爬山"])),
        ("all chats, \"山\" (one CJK char)", all(&["山"])),
        ("all chats, \"release notes\"", all(&["release notes"])),
        (
            "all chats, \"lunch\" AND \"🍜\"",
            MessageSearchParam {
                keyword_list_match_type: KeywordListMatchType::And,
                ..all(&["lunch", "🍜"])
            },
        ),
        (
            "all chats, \"morning\", 3 messages each (TUI)",
            MessageSearchParam {
                messages_per_conversation: 3,
                ..all(&["morning"])
            },
        ),
        (
            "one chat (200 msgs), \"ok\"",
            MessageSearchParam {
                conversation_id: Some(top.clone()),
                ..all(&["ok"])
            },
        ),
        (
            "one chat, sender filter only",
            MessageSearchParam {
                conversation_id: Some(top.clone()),
                user_id_list: words(&[&support::peer(0)]),
                ..Default::default()
            },
        ),
    ];
    let scratch = tempfile::tempdir().expect("scratch dir");
    rt.block_on(async {
        let handle = server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: root.join("server"),
            sdk_app_id: None,
            secret_key: None,
        database: None,
        })
        .await
        .expect("server");
        let (tim, _) = login(&handle.url(), handle.app_key(), &root.join("client")).await;
        tim.wait_synced(Duration::from_secs(120)).await;
        println!(
            "{:<46} {:>9} {:>9} {:>9} {:>7} {:>8}",
            "search_local_messages, ms", "p50", "mean", "max", "total", "listed"
        );
        for (label, p) in &queries {
            let mut samples = Vec::with_capacity(runs);
            let mut last = None;
            for i in 0..runs + 2 {
                let t = Instant::now();
                let r = tim.search_local_messages(p.clone()).await.expect("search");
                if i >= 2 {
                    samples.push(ms(t.elapsed()));
                }
                last = Some(r);
            }
            let r = last.expect("ran");
            let listed: usize = r
                .message_search_result_items
                .iter()
                .map(|i| i.message_list.len())
                .sum();
            let s = support::stats(&samples);
            println!(
                "{label:<46} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>8}",
                s.p50, s.mean, s.max, r.total_count, listed
            );
        }
        tim.logout().await.expect("logout");

        // A cache from before search: the same file without the side table.
        let old = scratch.path().join("old");
        let new = scratch.path().join("new");
        let bare = scratch.path().join("bare");
        copy_cache(&root.join("client"), &old);
        copy_cache(&root.join("client"), &new);
        copy_cache(&root.join("client"), &bare);
        for dir in [&old, &bare] {
            let db = rusqlite::Connection::open(support::cache_file(&dir.join(support::ME)))
                .expect("open copy");
            db.execute_batch(
                "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_update;
                 DROP TRIGGER messages_search_delete; DROP TABLE message_search;",
            )
            .expect("downgrade copy");
        }
        let (tim, plain) = login(&handle.url(), handle.app_key(), &new).await;
        tim.logout().await.expect("logout");
        let (tim, migrating) = login(&handle.url(), handle.app_key(), &old).await;
        let r = tim
            .search_local_messages(all(&["爬山"]))
            .await
            .expect("search after migration");
        tim.logout().await.expect("logout");
        println!(
            "login on the cache as is {:.0} ms; on a pre-search copy (fills the search table) {:.0} ms; then \"爬山\" finds {} chats",
            ms(plain),
            ms(migrating),
            r.total_count
        );
        handle.shutdown().await;
    });

    // FTS5 trigram over the same rows, on the copy.
    let db = rusqlite::Connection::open(support::cache_file(
        &scratch.path().join("new").join(support::ME),
    ))
    .expect("open copy");
    let t = Instant::now();
    db.execute_batch(
        "CREATE VIRTUAL TABLE fts USING fts5(text, content='message_search',
             content_rowid='row_id', tokenize='trigram');
         INSERT INTO fts(fts) VALUES('rebuild');",
    )
    .expect("fts5 trigram");
    println!("FTS5 trigram index built in {:.0} ms", ms(t.elapsed()));
    println!(
        "{:<46} {:>9} {:>9}",
        "same rows, raw SQL, per-chat counts, ms p50", "instr", "fts5"
    );
    for kw in ["xyzzy", "release notes", "morning", "爬山", "山", "ok"] {
        let time = |sql: &str, arg: &str| {
            let mut samples = Vec::new();
            for _ in 0..runs.min(10) {
                let t = Instant::now();
                let mut stmt = db.prepare_cached(sql).expect("prepare");
                let n = stmt
                    .query_map([arg], |r| r.get::<_, i64>(1))
                    .expect("query")
                    .count();
                std::hint::black_box(n);
                samples.push(ms(t.elapsed()));
            }
            support::stats(&samples).p50
        };
        let scan = time(
            "SELECT conversation_id, count(*) FROM message_search NOT INDEXED
             WHERE instr(text, ?1) > 0 GROUP BY conversation_id",
            kw,
        );
        // Trigrams need 3 characters; shorter keywords fall back to a scan of the index.
        let fts = if kw.chars().count() >= 3 {
            time(
                "SELECT s.conversation_id, count(*) FROM fts JOIN message_search s
                 ON s.row_id = fts.rowid WHERE fts MATCH ?1 GROUP BY s.conversation_id",
                &format!("\"{kw}\""),
            )
        } else {
            time(
                "SELECT s.conversation_id, count(*) FROM fts JOIN message_search s
                 ON s.row_id = fts.rowid WHERE fts.text LIKE '%' || ?1 || '%'
                 GROUP BY s.conversation_id",
                kw,
            )
        };
        println!("{:<46} {scan:>9.2} {fts:>9.2}", format!("{kw:?}"));
    }

    // What the triggers cost a write: 20,000 messages stored in one transaction (as a sync
    // page does, row by row), with the search table and without it.
    for (label, dir) in [("with the search table", "new"), ("without it", "bare")] {
        let db = rusqlite::Connection::open(support::cache_file(
            &scratch.path().join(dir).join(support::ME),
        ))
        .expect("open copy");
        let t = Instant::now();
        db.execute_batch(
            "BEGIN;
             INSERT INTO messages(local_id, msg_id, conversation_id, is_self, seq, order_seq,
                 order_sub, status, created_at, body)
             SELECT local_id, msg_id || '-copy', conversation_id, is_self, seq, order_seq,
                 order_sub, status, created_at, body FROM messages LIMIT 20000;
             COMMIT;",
        )
        .expect("copy rows");
        println!("storing 20,000 messages {label}: {:.0} ms", ms(t.elapsed()));
    }
}
