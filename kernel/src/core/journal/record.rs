//! One journal record, as it is written: a JSON object on one line (schema in
//! ARCHITECTURE.md, "The journal").

use serde::Serialize;

/// What a record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A cell's code changed (or a new cell), and it ran.
    Edit,
    /// A cell ran with the code it had.
    Run,
    /// The cells a change re-ran (or left stale), in one record.
    Recompute,
    Delete,
    /// A request the sheet refused (its code did not become a cell).
    Error,
    /// `%sheet lazy` / `%sheet auto`.
    Mode,
    /// The notebook's order changed and cells went stale.
    Order,
}

/// A record's fields, in the order they are written; absent ones are left out.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub seq: u64,
    pub kind: Kind,
    pub time: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    /// For a recompute: the cell whose change caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// For a recompute: the cells whose value changed (or failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<Vec<Recomputed>>,
    /// For a recompute: cells that re-ran to the same value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    /// The SHA-256 of the previous record's line (hex), or 64 zeros for the first.
    pub prev: String,
}

impl Record {
    pub fn new(kind: Kind, time: &str, user: &str, notebook: Option<&str>) -> Self {
        Record {
            seq: 0,
            kind,
            time: time.to_string(),
            user: user.to_string(),
            notebook: notebook.map(String::from),
            cell: None,
            address: None,
            title: None,
            code: None,
            value_type: None,
            value: None,
            status: None,
            error: None,
            ms: None,
            reads: None,
            cause: None,
            cells: None,
            same: None,
            stale: None,
            mode: None,
            prev: String::new(),
        }
    }
}

/// One cell of a recompute record: `{address, type, value, ms}`, with `status` and `error`
/// when it did not come out ok, and `reads` when what it reads changed.
#[derive(Debug, Clone, Serialize)]
pub struct Recomputed {
    pub address: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub value_type: String,
    pub value: String,
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
}

/// Milliseconds kept to the microsecond: more digits are noise and bytes.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
