//! One journal record, as it is written: a JSON object on one line (schema in
//! ARCHITECTURE.md, "The journal"). A record is serialized when it is made, while the cells it
//! describes are at hand; its `seq` and `prev` are put around it when it is appended, under
//! the file's lock.

use crate::sheet::address::push_decimal;
use crate::sheet::Address;
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// Longest value text a record keeps (characters).
const VALUE_CHARS: usize = 80;

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

/// An address written as its text, without building a String for it.
#[derive(Debug, Clone, Copy)]
pub struct Addr(pub Address);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

pub fn addrs(list: &[Address]) -> Vec<Addr> {
    list.iter().copied().map(Addr).collect()
}

/// A record's fields but `seq` (first) and `prev` (last), in the order they are written;
/// absent ones are left out.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub kind: Kind,
    pub time: &'a str,
    pub user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<Addr>>,
    /// For a recompute: the cell (or `%sheet` command) whose change caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// For a recompute: cells that re-ran to the same value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same: Option<Vec<Addr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<Vec<Addr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
}

impl<'a> Record<'a> {
    pub fn new(kind: Kind, time: &'a str, user: &'a str, notebook: Option<&'a str>) -> Self {
        Record {
            kind,
            time,
            user,
            notebook,
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
            same: None,
            stale: None,
            mode: None,
        }
    }

    /// Appends the record as JSON text and a newline to `out`, with `"cells": [entries]` when
    /// given (entries as [`write_recomputed`] wrote them).
    pub fn write_line(&self, out: &mut Vec<u8>, cells: Option<&[u8]>) {
        serde_json::to_writer(&mut *out, self).expect("a record serializes");
        if let Some(entries) = cells {
            out.pop(); // its closing brace
            out.extend_from_slice(b",\"cells\":[");
            out.extend_from_slice(entries.strip_suffix(b",").unwrap_or(entries));
            out.extend_from_slice(b"]}");
        }
        out.push(b'\n');
    }
}

/// Milliseconds kept to the microsecond: more digits are noise and bytes.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// A value's text, cut to [`VALUE_CHARS`] characters.
pub fn truncate(text: &str) -> Cow<'_, str> {
    if text.len() <= VALUE_CHARS {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(VALUE_CHARS) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// Appends one recompute entry, `{"address":…,"type":…,"value":…,"ms":…}` (or with
/// `"status"` and `"error"` for a failed cell, and `"reads"` when given), and a comma. Written
/// by the re-run loop while the cell is at hand: building a struct per cell and serializing a
/// list of 10,000 cost more than the re-runs' other bookkeeping.
pub fn write_recomputed(
    out: &mut Vec<u8>,
    address: Address,
    value_type: &str,
    value: &str,
    ms: f64,
    failed: Option<(&str, &str)>,
    reads: Option<&[Address]>,
) {
    out.extend_from_slice(b"{\"address\":\"");
    address.push_to(out);
    out.push(b'"');
    if let Some((status, error)) = failed {
        out.extend_from_slice(b",\"status\":");
        push_json_str(out, status);
        out.extend_from_slice(b",\"error\":");
        push_json_str(out, error);
    } else {
        out.extend_from_slice(b",\"type\":");
        push_json_str(out, value_type);
        out.extend_from_slice(b",\"value\":");
        push_json_str(out, &truncate(value));
    }
    // Microseconds as integers: exact, and cheaper to write than a float.
    let us = (ms * 1000.0).round().max(0.0) as u64;
    out.extend_from_slice(b",\"ms\":");
    push_decimal(out, us / 1000);
    out.push(b'.');
    let frac = us % 1000;
    out.extend_from_slice(&[b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8]);
    out.push(b'0' + (frac % 10) as u8);
    if let Some(reads) = reads {
        out.extend_from_slice(b",\"reads\":[");
        for (i, a) in reads.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            a.push_to(out);
            out.push(b'"');
        }
        out.push(b']');
    }
    out.extend_from_slice(b"},");
}

/// A JSON string: as it is when nothing in it needs escaping (the common case of numbers'
/// reprs and type names), else through serde_json.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_json() {
        let mut out = Vec::new();
        let a: Address = "B2".parse().unwrap();
        let r: Address = "A1".parse().unwrap();
        write_recomputed(&mut out, a, "str[3]", "a\"b", 0.0141, None, Some(&[r, a]));
        write_recomputed(&mut out, r, "int", "7", 1234.5, None, None);
        write_recomputed(
            &mut out,
            a,
            "",
            "",
            12.5,
            Some(("error", "ZeroDivisionError")),
            None,
        );
        let text = format!(
            "[{}]",
            String::from_utf8(out).unwrap().trim_end_matches(',')
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"address": "B2", "type": "str[3]", "value": "a\"b", "ms": 0.014,
                 "reads": ["A1", "B2"]},
                {"address": "A1", "type": "int", "value": "7", "ms": 1234.5},
                {"address": "B2", "status": "error", "error": "ZeroDivisionError", "ms": 12.5},
            ])
        );
        assert_eq!(truncate(&"x".repeat(100)).chars().count(), 81);
    }
}
