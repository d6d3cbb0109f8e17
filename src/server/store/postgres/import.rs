//! `termim migrate --from sqlite:DATA_DIR --to postgres://…`: copy a SQLite server's data
//! into an empty PostgreSQL database, in one transaction, with every table's row count
//! checked before the commit.
//!
//! The copy is table by table with binary `COPY … FROM STDIN` (rows streamed from SQLite,
//! never all in memory). What the PostgreSQL schema keeps beside SQLite's tables is
//! derived from the copied rows: each conversation's newest seq, time and counted-message
//! prefix (`convs.last_*`), the newest sync position (`sync_pos`), and the identity that
//! numbers new conversations. The SQLite database is only read (after the SQLite schema
//! is brought up to date, as `termim serve` would); stop the server first so nothing is
//! written to it during the copy.

use std::path::Path;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;

use super::Conn;
use crate::server::store::StoreError;

/// A column's type on both sides. SQLite stores booleans as integers.
#[derive(Clone, Copy)]
enum Col {
    Text,
    NullText,
    Int8,
    Int4,
    Bool,
}

impl Col {
    fn pg(self) -> Type {
        match self {
            Col::Text | Col::NullText => Type::TEXT,
            Col::Int8 => Type::INT8,
            Col::Int4 => Type::INT4,
            Col::Bool => Type::BOOL,
        }
    }
}

struct Table {
    name: &'static str,
    /// Columns, the same names on both sides.
    cols: &'static [(&'static str, Col)],
    /// The SQLite query, when it is not a plain select of the columns.
    select: Option<&'static str>,
}

use Col::*;

/// In dependency order (nothing here has foreign keys, but a reader of the copy expects
/// conversations before their messages).
const TABLES: &[Table] = &[
    Table {
        name: "users",
        cols: &[("user_id", Text), ("created_at", Int8)],
        select: None,
    },
    Table {
        name: "convs",
        cols: &[
            ("conv_id", Int8),
            ("key", Text),
            ("last_seq", Int8),
            ("last_time", Int8),
            ("last_cnum", Int8),
        ],
        // Seqs are dense and times and the counted prefix never go down along them, so
        // the maxima are the newest message's.
        select: Some(
            "SELECT c.conv_id, c.key, COALESCE(m.s, 0), COALESCE(m.t, 0), COALESCE(m.n, 0) \
             FROM convs c LEFT JOIN (SELECT conv_id, MAX(seq) AS s, MAX(time) AS t, \
             MAX(cnum) AS n FROM messages GROUP BY conv_id) m ON m.conv_id = c.conv_id \
             ORDER BY c.conv_id",
        ),
    },
    Table {
        name: "messages",
        cols: &[
            ("pos", Int8),
            ("conv_id", Int8),
            ("seq", Int8),
            ("msg_id", Text),
            ("client_id", Text),
            ("sender", Text),
            ("receiver", NullText),
            ("group_id", NullText),
            ("time", Int8),
            ("counted", Bool),
            ("nolast", Bool),
            ("targeted", Bool),
            ("body", Text),
            ("cnum", Int8),
        ],
        select: None,
    },
    Table {
        name: "user_stream",
        cols: &[("user_id", Text), ("pos", Int8)],
        select: None,
    },
    Table {
        name: "message_targets",
        cols: &[("user_id", Text), ("pos", Int8)],
        select: None,
    },
    Table {
        name: "groups",
        cols: &[
            ("group_id", Text),
            ("conv_id", Int8),
            ("type", Text),
            ("name", Text),
            ("owner", Text),
            ("create_time", Int8),
            ("dismissed", Bool),
        ],
        select: None,
    },
    Table {
        name: "group_members",
        cols: &[
            ("group_id", Text),
            ("user_id", Text),
            ("role", Int4),
            ("join_seq", Int8),
            ("join_time", Int8),
            ("mute_until", Int8),
        ],
        select: None,
    },
    Table {
        name: "user_conversations",
        cols: &[
            ("owner", Text),
            ("conv", Text),
            ("conv_id", Int8),
            ("peer", NullText),
            ("group_id", NullText),
            ("pinned", Bool),
            ("custom_data", Text),
            ("read_seq", Int8),
            ("read_time", Int8),
            ("cleared_seq", Int8),
            ("deleted", Bool),
            ("activated", Int8),
            ("own_unread", Int8),
        ],
        select: None,
    },
];

/// What was copied: each table's rows (checked equal on both sides).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub tables: Vec<(String, u64)>,
    /// The newest sync position (every client's cursor stays valid).
    pub sync_pos: i64,
}

/// One value of a SQLite row, as the PostgreSQL column wants it.
enum Value {
    Text(String),
    NullText(Option<String>),
    Int8(i64),
    Int4(i32),
    Bool(bool),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Text(v) => v,
            Value::NullText(v) => v,
            Value::Int8(v) => v,
            Value::Int4(v) => v,
            Value::Bool(v) => v,
        }
    }
}

fn convert(table: &str, col: &str, kind: Col, v: ValueRef<'_>) -> Result<Value, StoreError> {
    let bad = || {
        StoreError::Other(format!(
            "{table}.{col} holds a {} where the schema has {}",
            match v {
                ValueRef::Null => "NULL",
                ValueRef::Integer(_) => "integer",
                ValueRef::Real(_) => "real",
                ValueRef::Text(_) => "text",
                ValueRef::Blob(_) => "blob",
            },
            match kind {
                Col::Text => "text",
                Col::NullText => "text or NULL",
                Col::Int8 | Col::Int4 => "an integer",
                Col::Bool => "0 or 1",
            }
        ))
    };
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .map_err(|_| StoreError::Other(format!("{table}.{col} holds text that is not UTF-8")))
    };
    Ok(match (kind, v) {
        (Col::Text, ValueRef::Text(b)) => Value::Text(text(b)?),
        (Col::NullText, ValueRef::Text(b)) => Value::NullText(Some(text(b)?)),
        (Col::NullText, ValueRef::Null) => Value::NullText(None),
        (Col::Int8, ValueRef::Integer(i)) => Value::Int8(i),
        (Col::Int4, ValueRef::Integer(i)) => Value::Int4(i32::try_from(i).map_err(|_| bad())?),
        (Col::Bool, ValueRef::Integer(i)) => Value::Bool(i != 0),
        _ => return Err(bad()),
    })
}

/// Copy the SQLite server database at `path` into the (empty) PostgreSQL database at
/// `db`, whose schema is already migrated. All or nothing: on any error the PostgreSQL
/// transaction is rolled back.
pub fn import_sqlite(path: &Path, db: &mut Conn) -> Result<ImportReport, StoreError> {
    // Brings an older SQLite schema up to date, as `termim serve` would.
    let mut src = crate::server::store::sqlite::schema::open_writer(path)?;
    // One read transaction: a consistent snapshot even if something writes meanwhile.
    let snapshot = src.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
    let mut tx = db
        .client
        .transaction()
        .map_err(|e| StoreError::Other(format!("PostgreSQL: {e}")))?;
    let pgerr = |e: postgres::Error| StoreError::Other(format!("PostgreSQL: {e}"));
    for table in TABLES {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])
            .map_err(pgerr)?
            .get(0);
        if n != 0 {
            return Err(StoreError::Other(format!(
                "the PostgreSQL database is not empty ({} holds {n} rows): migrate copies \
                 into a new database only",
                table.name
            )));
        }
    }
    let mut report = ImportReport {
        tables: Vec::new(),
        sync_pos: 0,
    };
    for table in TABLES {
        let names: Vec<&str> = table.cols.iter().map(|(n, _)| *n).collect();
        let select = match table.select {
            Some(q) => q.to_string(),
            None => format!("SELECT {} FROM {}", names.join(", "), table.name),
        };
        let types: Vec<Type> = table.cols.iter().map(|(_, c)| c.pg()).collect();
        let sink = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN BINARY",
                table.name,
                names.join(", ")
            ))
            .map_err(pgerr)?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        let mut stmt = snapshot.prepare(&select)?;
        let mut rows = stmt.query([])?;
        let mut copied = 0u64;
        let mut values: Vec<Value> = Vec::with_capacity(table.cols.len());
        while let Some(row) = rows.next()? {
            values.clear();
            for (i, (col, kind)) in table.cols.iter().enumerate() {
                values.push(convert(table.name, col, *kind, row.get_ref(i)?)?);
            }
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(Value::as_sql).collect();
            writer.write(&refs).map_err(pgerr)?;
            copied += 1;
        }
        writer.finish().map_err(pgerr)?;
        let source: i64 =
            snapshot.query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| {
                r.get(0)
            })?;
        let target: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])
            .map_err(pgerr)?
            .get(0);
        if source as u64 != copied || target != source {
            return Err(StoreError::Other(format!(
                "{}: {source} rows in SQLite, {copied} read, {target} in PostgreSQL — nothing \
                 was kept",
                table.name
            )));
        }
        report.tables.push((table.name.to_string(), copied));
    }
    let max_pos: i64 =
        snapshot.query_row("SELECT COALESCE(MAX(pos), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
    tx.execute("UPDATE sync_pos SET pos = $1 WHERE id = 1", &[&max_pos])
        .map_err(pgerr)?;
    // New conversations are numbered after the copied ones.
    tx.batch_execute(
        "SELECT setval(pg_get_serial_sequence('convs', 'conv_id'), \
         GREATEST((SELECT MAX(conv_id) FROM convs), 1), \
         (SELECT COUNT(*) > 0 FROM convs))",
    )
    .map_err(pgerr)?;
    tx.commit().map_err(pgerr)?;
    report.sync_pos = max_pos;
    Ok(report)
}
