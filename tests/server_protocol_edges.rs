//! Edges of the protocol a third-party client may hit, against a real server (issue 10).

mod common;

use common::raw::TestServer;
use serde_json::json;

/// Issue 10.9: `getGroupMemberList` with a `nextSeq` at or past 2^63 is past every member
/// (an empty, finished page), not the first page again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_list_offset_past_i64_is_the_end_not_the_start() {
    let server = TestServer::start().await;
    let mut alice = server.login("alice").await;
    server.login("bob").await;
    alice.create_group("Work", "edge", &["bob"]).await;
    for next in [
        "9223372036854775808",
        "18446744073709551615",
        "9223372036854775807",
    ] {
        let page = alice
            .call(
                "getGroupMemberList",
                json!({"groupID": "edge", "filter": 0, "nextSeq": next, "count": 10}),
            )
            .await;
        assert_eq!(
            page["memberInfoList"].as_array().map(Vec::len),
            Some(0),
            "nextSeq {next}: {page}"
        );
        assert_eq!(page["nextSeq"], "0", "finished");
    }
    let first = alice
        .call(
            "getGroupMemberList",
            json!({"groupID": "edge", "filter": 0, "nextSeq": "0", "count": 10}),
        )
        .await;
    assert_eq!(first["memberInfoList"].as_array().map(Vec::len), Some(2));
}
