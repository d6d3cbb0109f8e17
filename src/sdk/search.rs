//! Local message search: V2TIM's `searchLocalMessages` over this device's SQLite cache.
//!
//! What is searched: a text message's text, a custom message's `data`, `desc` and
//! `extension`; substring match, case-insensitive for ASCII (so `Hello` finds `hello`),
//! exact for everything else (Chinese, emoji: a keyword of any length, even one
//! character, is found inside a word). Not searched: `localCustomData`,
//! `cloudCustomData`, group tips. Only messages this device shows are found: stored and
//! pending messages of a conversation (sending and failed ones included), never a
//! created-but-unsent message, never anything from a deleted conversation (its messages
//! leave the cache), never a targeted message for others (it never reaches this cache).
//! Searching never touches the network.
//!
//! How. A narrow side table `message_search` holds one row per message: conversation,
//! sender, time, elem type, status and the searchable text folded to ASCII lowercase
//! (SQLite's `lower()` folds only ASCII). Triggers on `messages` keep it exact on every
//! insert, update and delete, whichever code path writes; caches made before it existed
//! gain it (filled from their messages) when opened. A search is one scan of that table
//! with `instr` per keyword — about 100 bytes per message, against ~700 for the JSON
//! rows — or, for one conversation, a walk of its index. FTS5 was measured and not
//! taken: see docs/PERFORMANCE.md § Local message search.
//!
//! # The V2TIM shape, and termim's extension
//!
//! - One conversation (`conversation_id: Some`): `total_count` = matching messages; one
//!   item with `message_count` = that count and `message_list` = the page
//!   (`page_index` × `page_size`), newest first (in the conversation's order, as history
//!   shows it). No match: no item.
//! - All conversations (`None`): `total_count` = conversations with a match; the page of
//!   items (conversations, the one with the newest match first), each with its
//!   `message_count`. As in V2TIM, `message_list` holds the message when a conversation
//!   has exactly one match and is empty when it has more (an app then searches that
//!   conversation). **termim extension:** `messages_per_conversation = n > 0` fills
//!   every item's `message_list` with its `n` newest matches instead, so a UI can show
//!   snippets for all conversations from one call. 0 (the default) is V2TIM's rule.

use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::cache::Cache;
use super::error::TimError;
use super::{Inner, Tim};
use crate::model::{ConversationId, Message, MessageStatus, elem_type};

/// Keywords per search (V2TIM: 5).
pub const KEYWORDS_MAX: usize = 5;
/// Senders per search (V2TIM: 5).
pub const SENDERS_MAX: usize = 5;
/// `page_size` when none is given (V2TIM: 100).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// V2TIM's face elem type; like group tips, not searchable.
const ELEM_FACE: u8 = 8;

/// `V2TimKeywordListMatchType`: does a message need any keyword, or all of them?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeywordListMatchType {
    /// `V2TIM_KEYWORD_LIST_MATCH_TYPE_OR` (0): any keyword.
    #[default]
    Or = 0,
    /// `V2TIM_KEYWORD_LIST_MATCH_TYPE_AND` (1): every keyword.
    And = 1,
}

/// `V2TimMessageSearchParam` (reference §2.10), the local-search fields, plus termim's
/// `messages_per_conversation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSearchParam {
    /// Up to 5 keywords; may be empty only when `user_id_list` or `message_type_list`
    /// filters.
    pub keyword_list: Vec<String>,
    pub keyword_list_match_type: KeywordListMatchType,
    /// Senders (V2TIM `userIDList`), up to 5; empty = anyone.
    pub user_id_list: Vec<String>,
    /// Elem types (`model::elem_type`); empty = any. Face and group tips are refused.
    pub message_type_list: Vec<u8>,
    /// `None`: every conversation.
    pub conversation_id: Option<String>,
    /// End of the time window, UTC seconds; 0 = now.
    pub search_time_position: i64,
    /// Length of the window back from its end, seconds; 0 = unlimited.
    pub search_time_period: i64,
    /// Messages (one conversation) or conversations (all) per page; default 100.
    pub page_size: u32,
    /// Page number from 0.
    pub page_index: u32,
    /// termim extension (all-conversation searches): fill each item's `message_list`
    /// with up to this many newest matches. 0 = V2TIM's rule (the message only when the
    /// conversation has exactly one match).
    pub messages_per_conversation: u32,
}

impl Default for MessageSearchParam {
    fn default() -> Self {
        Self {
            keyword_list: Vec::new(),
            keyword_list_match_type: KeywordListMatchType::Or,
            user_id_list: Vec::new(),
            message_type_list: Vec::new(),
            conversation_id: None,
            search_time_position: 0,
            search_time_period: 0,
            page_size: DEFAULT_PAGE_SIZE,
            page_index: 0,
            messages_per_conversation: 0,
        }
    }
}

/// `V2TimMessageSearchResultItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSearchResultItem {
    pub conversation_id: String,
    /// Matching messages in this conversation.
    pub message_count: u32,
    /// Newest first; see the module notes for when it is filled.
    pub message_list: Vec<Message>,
}

/// `V2TimMessageSearchResult`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageSearchResult {
    /// Matching messages (one conversation) or conversations with a match (all).
    pub total_count: u32,
    pub message_search_result_items: Vec<MessageSearchResultItem>,
}

impl Tim {
    /// `searchLocalMessages`: search this device's cache (see the module notes). Refuses
    /// (6017, with a sentence) more than 5 keywords or senders, an empty keyword, no
    /// keyword without a sender or type filter, face or tips types, an invalid
    /// conversation id, a negative time, a zero page size. Never uses the network.
    pub async fn search_local_messages(
        &self,
        param: MessageSearchParam,
    ) -> Result<MessageSearchResult, TimError> {
        self.inner.check_logged_in()?;
        let query = Query::new(&param, super::cache::now_secs())?;
        // A scan of a big cache takes milliseconds: off the async workers.
        let inner: Arc<Inner> = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.cache.search(&query))
            .await
            .map_err(|e| {
                TimError::new(
                    crate::protocol::codes::ERR_SDK_INTERNAL_ERROR,
                    e.to_string(),
                )
            })?
    }
}

// ---------------------------------------------------------------- the cache side

/// The side table's columns for a `messages` row whose columns are named with `row`
/// (`NEW.` in a trigger, nothing in a plain SELECT): the searchable text is a text
/// message's text, or a custom message's data, desc and extension (separated by a
/// control character no keyword holds), folded to ASCII lowercase.
fn search_columns(row: &str) -> String {
    let j = |path: &str| format!("COALESCE(json_extract({row}body, '{path}'), '')");
    format!(
        "{row}row_id, {row}conversation_id, {sender},
         COALESCE(json_extract({row}body, '$.timestamp'), 0),
         COALESCE(json_extract({row}body, '$.elemType'), 0),
         {row}status,
         lower(CASE json_extract({row}body, '$.elemType')
             WHEN {text} THEN {t}
             WHEN {custom} THEN {data} || char(31) || {desc} || char(31) || {ext}
             ELSE '' END)",
        sender = j("$.sender"),
        text = elem_type::TEXT,
        custom = elem_type::CUSTOM,
        t = j("$.textElem.text"),
        data = j("$.customElem.data"),
        desc = j("$.customElem.desc"),
        ext = j("$.customElem.extension"),
    )
}

/// Create the side table, its index and triggers, and fill it from the messages already
/// cached. Run once per cache (in a transaction), when `message_search` is missing.
/// Created-but-unsent messages (no conversation yet) get their row when they are sent.
pub(crate) fn migration_sql() -> String {
    let new = search_columns("NEW.");
    let old = search_columns("");
    format!(
        "CREATE TABLE message_search (
             row_id          INTEGER PRIMARY KEY,
             conversation_id TEXT NOT NULL,
             sender          TEXT NOT NULL,
             timestamp       INTEGER NOT NULL,
             elem_type       INTEGER NOT NULL,
             status          INTEGER NOT NULL,
             text            TEXT NOT NULL
         );
         CREATE INDEX message_search_conv ON message_search(conversation_id, timestamp);
         CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
         WHEN NEW.conversation_id != '' BEGIN
             INSERT OR REPLACE INTO message_search SELECT {new};
         END;
         CREATE TRIGGER messages_search_update AFTER UPDATE ON messages BEGIN
             DELETE FROM message_search WHERE row_id = OLD.row_id;
             INSERT INTO message_search SELECT {new} WHERE NEW.conversation_id != '';
         END;
         CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
             DELETE FROM message_search WHERE row_id = OLD.row_id;
         END;
         INSERT INTO message_search SELECT {old} FROM messages WHERE conversation_id != '';"
    )
}

/// A validated search, ready for SQL.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// ASCII-lowercased keywords.
    keywords: Vec<String>,
    all_keywords: bool,
    senders: Vec<String>,
    types: Vec<u8>,
    conversation_id: Option<String>,
    /// Inclusive bounds on the message time.
    from: Option<i64>,
    to: Option<i64>,
    page_size: u32,
    page_index: u32,
    per_conversation: u32,
}

impl Query {
    fn new(p: &MessageSearchParam, now: i64) -> Result<Query, TimError> {
        if p.keyword_list.len() > KEYWORDS_MAX {
            return Err(TimError::invalid(format!(
                "{} keywords; a search takes at most {KEYWORDS_MAX}",
                p.keyword_list.len()
            )));
        }
        if let Some(i) = p.keyword_list.iter().position(|k| k.trim().is_empty()) {
            return Err(TimError::invalid(format!(
                "keyword {} is empty; leave it out",
                i + 1
            )));
        }
        if p.keyword_list.is_empty() && p.user_id_list.is_empty() && p.message_type_list.is_empty()
        {
            return Err(TimError::invalid(
                "no keyword: give one, or filter by sender (userIDList) or message type \
                 (messageTypeList)",
            ));
        }
        if p.user_id_list.len() > SENDERS_MAX {
            return Err(TimError::invalid(format!(
                "{} senders; a search takes at most {SENDERS_MAX}",
                p.user_id_list.len()
            )));
        }
        if let Some(t) = p
            .message_type_list
            .iter()
            .find(|t| matches!(**t, elem_type::GROUP_TIPS | ELEM_FACE))
        {
            return Err(TimError::invalid(format!(
                "message type {t} (face or group tips) is not searchable"
            )));
        }
        if let Some(id) = &p.conversation_id
            && ConversationId::parse(id).is_none()
        {
            return Err(TimError::invalid(format!("invalid conversation id {id:?}")));
        }
        if p.search_time_position < 0 || p.search_time_period < 0 {
            return Err(TimError::invalid(
                "searchTimePosition and searchTimePeriod are seconds, never negative",
            ));
        }
        if p.page_size == 0 {
            return Err(TimError::invalid("pageSize must be at least 1"));
        }
        let to = (p.search_time_position > 0).then_some(p.search_time_position);
        let from = (p.search_time_period > 0)
            .then(|| to.unwrap_or(now).saturating_sub(p.search_time_period));
        Ok(Query {
            keywords: p
                .keyword_list
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            all_keywords: p.keyword_list_match_type == KeywordListMatchType::And,
            senders: p.user_id_list.clone(),
            types: p.message_type_list.clone(),
            conversation_id: p.conversation_id.clone(),
            from,
            to,
            page_size: p.page_size,
            page_index: p.page_index,
            per_conversation: p.messages_per_conversation,
        })
    }

    /// The filter on `message_search` (alias `s`) every search shares, and its
    /// arguments: visible statuses, no tips, keywords, senders, types, time.
    fn filter(&self) -> (String, Vec<Value>) {
        let mut sql = format!(
            "s.status NOT IN ({}, {}) AND s.elem_type != {}",
            MessageStatus::HasDeleted as u8,
            MessageStatus::LocalRevoked as u8,
            elem_type::GROUP_TIPS
        );
        let mut args: Vec<Value> = Vec::new();
        if !self.keywords.is_empty() {
            let join = if self.all_keywords { " AND " } else { " OR " };
            let terms: Vec<&str> = self
                .keywords
                .iter()
                .map(|_| "instr(s.text, ?) > 0")
                .collect();
            sql.push_str(&format!(" AND ({})", terms.join(join)));
            args.extend(self.keywords.iter().map(|k| Value::Text(k.clone())));
        }
        if !self.senders.is_empty() {
            sql.push_str(&format!(" AND s.sender IN ({})", marks(self.senders.len())));
            args.extend(self.senders.iter().map(|s| Value::Text(s.clone())));
        }
        if !self.types.is_empty() {
            sql.push_str(&format!(
                " AND s.elem_type IN ({})",
                marks(self.types.len())
            ));
            args.extend(self.types.iter().map(|t| Value::Integer(i64::from(*t))));
        }
        if let Some(from) = self.from {
            sql.push_str(" AND s.timestamp >= ?");
            args.push(Value::Integer(from));
        }
        if let Some(to) = self.to {
            sql.push_str(" AND s.timestamp <= ?");
            args.push(Value::Integer(to));
        }
        (sql, args)
    }

    fn offset(&self) -> i64 {
        (u64::from(self.page_index) * u64::from(self.page_size)).min(i64::MAX as u64) as i64
    }
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Cache {
    pub(crate) fn search(&self, q: &Query) -> Result<MessageSearchResult, TimError> {
        let conn = self.lock();
        match &q.conversation_id {
            Some(id) => search_one(&conn, q, id),
            None => search_all(&conn, q),
        }
    }
}

fn search_one(conn: &Connection, q: &Query, id: &str) -> Result<MessageSearchResult, TimError> {
    let (filter, args) = q.filter();
    let mut all = vec![Value::Text(id.to_string())];
    all.extend(args);
    let count: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM message_search s WHERE s.conversation_id = ? AND {filter}"
        ))?
        .query_row(rusqlite::params_from_iter(all.iter()), |r| r.get(0))?;
    if count == 0 {
        return Ok(MessageSearchResult::default());
    }
    let list = newest(conn, q, id, i64::from(q.page_size), q.offset())?;
    Ok(MessageSearchResult {
        total_count: clamp_u32(count),
        message_search_result_items: vec![MessageSearchResultItem {
            conversation_id: id.to_string(),
            message_count: clamp_u32(count),
            message_list: list,
        }],
    })
}

/// A conversation's matching messages, newest first in the conversation's own order
/// (seq; a message being sent after the stored one it follows): `limit` from `offset`.
fn newest(
    conn: &Connection,
    q: &Query,
    id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Message>, TimError> {
    let (filter, args) = q.filter();
    let mut all = vec![Value::Text(id.to_string())];
    all.extend(args);
    all.push(Value::Integer(limit));
    all.push(Value::Integer(offset));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.body FROM message_search s JOIN messages m ON m.row_id = s.row_id
         WHERE s.conversation_id = ? AND {filter}
         ORDER BY m.order_seq DESC, m.order_sub DESC, s.row_id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(all.iter()), |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for body in rows {
        out.push(serde_json::from_str(&body?).map_err(TimError::database)?);
    }
    Ok(out)
}

fn search_all(conn: &Connection, q: &Query) -> Result<MessageSearchResult, TimError> {
    let (filter, args) = q.filter();
    // One pass over the side table (NOT INDEXED: walking the conversation index would
    // fetch every row through it, which is slower than the scan); the groups, at most one
    // per conversation, are paged here.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.conversation_id, count(*), max(s.timestamp), max(s.row_id)
         FROM message_search AS s NOT INDEXED WHERE {filter}
         GROUP BY s.conversation_id"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut groups = Vec::new();
    for row in rows {
        groups.push(row?);
    }
    drop(stmt);
    // The conversation with the newest match first.
    groups.sort_by_key(|g| std::cmp::Reverse((g.2, g.3)));
    let total = groups.len();
    let start = usize::try_from(q.offset()).unwrap_or(usize::MAX).min(total);
    let mut items = Vec::new();
    for (id, count, _, _) in groups.into_iter().skip(start).take(q.page_size as usize) {
        let want = if q.per_conversation > 0 {
            i64::from(q.per_conversation)
        } else if count == 1 {
            1
        } else {
            0
        };
        let message_list = if want > 0 {
            newest(conn, q, &id, want, 0)?
        } else {
            Vec::new()
        };
        items.push(MessageSearchResultItem {
            conversation_id: id,
            message_count: clamp_u32(count),
            message_list,
        });
    }
    Ok(MessageSearchResult {
        total_count: clamp_u32(total as i64),
        message_search_result_items: items,
    })
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomElem, Elem, TextElem};

    fn open(dir: &tempfile::TempDir) -> Cache {
        Cache::open(&dir.path().join("alice").join("cache.db"), "alice").unwrap()
    }

    fn msg(from: &str, to: &str, seq: u64, elem: Elem) -> Message {
        let mut m = Message {
            msg_id: format!("m-{from}-{to}-{seq}"),
            id: format!("c-{from}-{seq}"),
            sender: from.into(),
            receiver: Some(to.into()),
            seq,
            timestamp: 1_700_000_000 + seq as i64,
            status: MessageStatus::SendSucc,
            ..Default::default()
        };
        m.set_elem(elem);
        m
    }

    fn text(from: &str, to: &str, seq: u64, t: &str) -> Message {
        msg(from, to, seq, Elem::Text(TextElem { text: t.into() }))
    }

    fn find(cache: &Cache, p: MessageSearchParam) -> Vec<String> {
        let q = Query::new(&p, 1_800_000_000).unwrap();
        cache
            .search(&q)
            .unwrap()
            .message_search_result_items
            .into_iter()
            .flat_map(|i| i.message_list)
            .map(|m| m.preview())
            .collect()
    }

    fn kw(words: &[&str]) -> MessageSearchParam {
        MessageSearchParam {
            keyword_list: words.iter().map(|w| w.to_string()).collect(),
            conversation_id: Some("c2c_bob".into()),
            ..Default::default()
        }
    }

    #[test]
    fn finds_text_and_custom_fields_case_insensitively_and_in_chinese() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir);
        let mut with_local = text("alice", "bob", 4, "plain words");
        with_local.local_custom_data = Some("secret-local".into());
        with_local.cloud_custom_data = Some("secret-cloud".into());
        cache
            .store_remote(
                vec![
                    text("bob", "alice", 1, "Hello World"),
                    text("bob", "alice", 2, "周末一起去爬山吗"),
                    msg(
                        "bob",
                        "alice",
                        3,
                        Elem::Custom(CustomElem {
                            data: "{\"Order\":42}".into(),
                            desc: "订单 shipped".into(),
                            extension: "EXT-9".into(),
                        }),
                    ),
                    with_local,
                ],
                None,
            )
            .unwrap();
        assert_eq!(find(&cache, kw(&["hello"])), ["Hello World"]);
        assert_eq!(find(&cache, kw(&["WORLD"])), ["Hello World"]);
        assert_eq!(find(&cache, kw(&["山"])), ["周末一起去爬山吗"]);
        assert_eq!(find(&cache, kw(&["爬山"])), ["周末一起去爬山吗"]);
        assert_eq!(find(&cache, kw(&["order"])), ["[custom] 订单 shipped"]);
        assert_eq!(find(&cache, kw(&["订单"])), ["[custom] 订单 shipped"]);
        assert_eq!(find(&cache, kw(&["ext-9"])), ["[custom] 订单 shipped"]);
        assert!(
            find(&cache, kw(&["secret"])).is_empty(),
            "custom data isn't searched"
        );
        // A keyword never spans two fields of a custom message.
        assert!(find(&cache, kw(&["42}订单"])).is_empty());
    }

    #[test]
    fn the_side_table_follows_updates_deletes_and_unsent_messages() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir);
        let mut created = text("alice", "", 0, "draft needle");
        created.msg_id.clear();
        created.id = "c-new".into();
        created.receiver = Some("bob".into());
        cache.insert_created(&created).unwrap();
        assert!(
            find(&cache, kw(&["needle"])).is_empty(),
            "created, not sent"
        );
        cache.mark_sending(&created).unwrap();
        assert_eq!(find(&cache, kw(&["needle"])), ["draft needle"]);
        cache.mark_failed("c-new").unwrap();
        assert_eq!(find(&cache, kw(&["needle"])), ["draft needle"]);
        let mut acked = text("alice", "bob", 1, "draft needle");
        acked.id = "c-new".into();
        cache.complete_send("c-new", acked, Some(3)).unwrap();
        let q = Query::new(&kw(&["needle"]), 0).unwrap();
        let r = cache.search(&q).unwrap();
        assert_eq!(r.total_count, 1);
        let m = &r.message_search_result_items[0].message_list[0];
        assert_eq!((m.seq, m.status), (1, MessageStatus::SendSucc));
        cache.delete_conversation("c2c_bob").unwrap();
        assert!(
            find(&cache, kw(&["needle"])).is_empty(),
            "deleted with its chat"
        );
    }

    #[test]
    fn an_old_cache_gains_the_index_with_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice").join("cache.db");
        {
            let cache = open(&dir);
            cache
                .store_remote(vec![text("bob", "alice", 1, "from before")], None)
                .unwrap();
        }
        {
            // As a cache written before search existed: no side table, no triggers.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_update;
                 DROP TRIGGER messages_search_delete; DROP TABLE message_search;",
            )
            .unwrap();
        }
        let cache = Cache::open(&path, "alice").unwrap();
        assert_eq!(find(&cache, kw(&["BEFORE"])), ["from before"]);
        cache
            .store_remote(vec![text("bob", "alice", 2, "after, before")], None)
            .unwrap();
        assert_eq!(
            find(&cache, kw(&["before"])),
            ["after, before", "from before"]
        );
        drop(cache);
        // Opening again changes nothing.
        let cache = Cache::open(&path, "alice").unwrap();
        assert_eq!(find(&cache, kw(&["before"])).len(), 2);
    }

    #[test]
    fn bad_params_are_refused_with_6017_and_a_sentence() {
        let bad = [
            kw(&["a", "b", "c", "d", "e", "f"]),
            kw(&["a", " "]),
            MessageSearchParam::default(),
            MessageSearchParam {
                user_id_list: (0..6).map(|i| format!("u{i}")).collect(),
                ..Default::default()
            },
            MessageSearchParam {
                message_type_list: vec![elem_type::GROUP_TIPS],
                ..Default::default()
            },
            MessageSearchParam {
                conversation_id: Some("bob".into()),
                ..kw(&["x"])
            },
            MessageSearchParam {
                page_size: 0,
                ..kw(&["x"])
            },
            MessageSearchParam {
                search_time_period: -1,
                ..kw(&["x"])
            },
        ];
        for p in bad {
            let e = Query::new(&p, 0).unwrap_err();
            assert_eq!(e.code, 6017, "{p:?}");
            assert!(e.desc.len() > 10, "{e}");
        }
        // Without a keyword, a sender or type filter is enough.
        Query::new(
            &MessageSearchParam {
                user_id_list: vec!["bob".into()],
                ..Default::default()
            },
            0,
        )
        .unwrap();
    }

    #[test]
    fn time_window_ends_at_the_position_and_reaches_back_the_period() {
        let q = Query::new(
            &MessageSearchParam {
                search_time_position: 1000,
                search_time_period: 100,
                ..kw(&["x"])
            },
            5000,
        )
        .unwrap();
        assert_eq!((q.from, q.to), (Some(900), Some(1000)));
        let q = Query::new(
            &MessageSearchParam {
                search_time_period: 100,
                ..kw(&["x"])
            },
            5000,
        )
        .unwrap();
        assert_eq!((q.from, q.to), (Some(4900), None), "position 0 = now");
        let q = Query::new(&kw(&["x"]), 5000).unwrap();
        assert_eq!((q.from, q.to), (None, None));
    }
}
