//! `sync` pages against a real server: whatever the page size, the byte cut, the
//! connection (continuing its own pages, or a fresh one resuming a cursor) and the
//! interleaving of many conversations, the pages together are exactly the messages the
//! user may see, in position order, each once — targeted messages for others never.

mod common;

use common::raw::{RawClient, TestServer, text_params};
use serde_json::{Value, json};

/// All pages from `cursor` with `count` per page on `client`.
async fn pages(client: &mut RawClient, mut cursor: u64, count: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut n = 0;
    loop {
        let data = client
            .call("sync", json!({"cursor": cursor, "count": count}))
            .await;
        let list = data["messageList"].as_array().cloned().unwrap_or_default();
        assert!(
            list.len() <= count as usize,
            "page of {} > {count}",
            list.len()
        );
        ids.extend(
            list.iter()
                .map(|m| m["msgID"].as_str().unwrap_or_default().to_string()),
        );
        n += 1;
        let next = data["cursor"].as_u64().expect("cursor");
        if data["isFinished"] == true {
            return (ids, n);
        }
        assert!(next > cursor, "an unfinished page moves the cursor");
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_exactly_the_visible_messages_in_order_whatever_their_size() {
    let server = TestServer::start_with(termim::server::ServerOptions {
        group_send_rate: None,
        request_rate: None,
        ..Default::default()
    })
    .await;
    let mut alice = server.login("alice").await;
    let peers: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let mut clients = Vec::new();
    for p in &peers {
        clients.push(server.login(p).await);
    }
    // Two groups with alice, one without her.
    let members: Vec<&str> = peers.iter().map(String::as_str).collect();
    let mut with_alice = members.clone();
    with_alice.push("alice");
    clients[0].create_group("Work", "g1", &with_alice).await;
    clients[1].create_group("Work", "g2", &with_alice).await;
    clients[2].create_group("Work", "g3", &members).await;
    // The tips of the groups alice is in count as messages too: take the baseline.
    let (before, _) = pages(&mut alice, 0, 500).await;

    // Interleave: C2C both ways, group messages, targeted ones to alice and to others,
    // and some big ones for the byte cut.
    let mut expected = before.clone();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let who = (seed % 8) as usize;
        let big = seed.is_multiple_of(23);
        let text = if big {
            format!("{n} {}", "x".repeat(11_000))
        } else {
            format!("{n}")
        };
        let id = format!("c{n}");
        let (client, params, visible): (&mut RawClient, Value, bool) = match (seed >> 8) % 6 {
            0 => (&mut alice, text_params(&id, &peers[who], "", &text), true),
            1 | 2 => (
                &mut clients[who],
                text_params(&id, "alice", "", &text),
                true,
            ),
            3 => (&mut clients[who], text_params(&id, "", "g1", &text), true),
            4 => {
                let mut p = text_params(&id, "", "g2", &text);
                let to_alice = seed.is_multiple_of(3);
                let target = if to_alice {
                    "alice"
                } else {
                    &peers[(who + 1) % 8]
                };
                p["targetGroupMemberList"] = json!([target]);
                (&mut clients[who], p, to_alice)
            }
            _ => (&mut clients[who], text_params(&id, "", "g3", &text), false),
        };
        let data = client.call("sendMessage", params).await;
        let msg_id = data["message"]["msgID"]
            .as_str()
            .expect("msgID")
            .to_string();
        if visible {
            expected.push(msg_id);
        }
    }

    for count in [1, 7, 50, 500] {
        let (got, n) = pages(&mut alice, 0, count).await;
        assert_eq!(got.len(), expected.len(), "count {count}: {n} pages");
        assert_eq!(got, expected, "count {count}");
    }
    // A fresh connection resuming mid-way from a cursor another page gave.
    let first = alice.call("sync", json!({"cursor": 0, "count": 37})).await;
    let cursor = first["cursor"].as_u64().unwrap();
    let mut other = server.login("alice").await;
    let (rest, _) = pages(&mut other, cursor, 13).await;
    let head = first["messageList"].as_array().unwrap().len();
    assert_eq!(rest, expected[head..].to_vec());
    // And the same connection asked for an older cursor again (its hint is for another).
    let (again, _) = pages(&mut alice, cursor, 500).await;
    assert_eq!(again, expected[head..].to_vec());
}

/// The stream keeps what was sent to the user; what the user may no longer see (groups
/// left, a deleted conversation's past) is passed over on the way out, and the pages still
/// move on and end — whatever the page size.
#[tokio::test]
async fn sync_passes_over_what_the_user_may_no_longer_see() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    for g in 0..12 {
        bob.create_group("Public", &format!("g{g}"), &["alice"])
            .await;
    }
    let mut kept = Vec::new();
    for round in 0..3 {
        for g in 0..12 {
            let m = bob
                .send_text_to("", &format!("g{g}"), &format!("r{round}g{g}"), "x")
                .await;
            if g % 4 == 0 {
                kept.push(m["msgID"].as_str().unwrap_or_default().to_string());
            }
        }
        bob.send_text_to("alice", "", &format!("c{round}"), "c2c")
            .await;
    }
    // Alice leaves three groups of four, and deletes her chat with bob.
    for g in (0..12).filter(|g| g % 4 != 0) {
        alice
            .call("quitGroup", json!({"groupID": format!("g{g}")}))
            .await;
    }
    alice
        .call("deleteConversation", json!({"conversationID": "c2c_bob"}))
        .await;
    let after = bob
        .send_text_to("alice", "", "c9", "after the delete")
        .await;
    kept.push(after["msgID"].as_str().unwrap_or_default().to_string());
    for count in [1, 2, 5, 500] {
        let (ids, _) = pages(&mut alice, 0, count).await;
        assert_eq!(
            ids, kept,
            "count {count}: exactly what she may still see, in order"
        );
    }
}
