//! The replay's input, `{"cells": [{"address", "code", "cellId"?}, …]}`, read strictly: a
//! document that is not one is refused before Python starts (exit status 2), and unknown
//! fields are refused too, since a misspelt `address` would silently move a cell.

use crate::sheet::Address;
use serde::Deserialize;
use std::collections::HashMap;

/// One cell to evaluate, in notebook order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCell {
    /// Where the cell goes; without one the kernel's rules choose (its label, else the next
    /// free address down column A), as for a cell a frontend runs without metadata.
    pub address: Option<Address>,
    pub code: String,
    pub cell_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    cells: Vec<RawCell>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCell {
    #[serde(default)]
    address: Option<String>,
    code: String,
    #[serde(default, rename = "cellId")]
    cell_id: Option<String>,
}

/// The cells of a replay document, or why `text` is not one.
pub fn parse(text: &str) -> Result<Vec<ReplayCell>, String> {
    let document: Document = serde_json::from_str(text).map_err(|e| {
        format!(
            "the input is not a replay document ({{\"cells\": [{{\"address\", \"code\", \
             \"cellId\"?}}, …]}}): {e}"
        )
    })?;
    let mut cells = Vec::with_capacity(document.cells.len());
    for (i, raw) in document.cells.into_iter().enumerate() {
        let address = raw
            .address
            .map(|a| {
                a.parse::<Address>()
                    .map_err(|e| format!("cell {} of the input: {e}", i + 1))
            })
            .transpose()?;
        cells.push(ReplayCell {
            address,
            code: raw.code,
            cell_id: raw.cell_id,
        });
    }
    // Two cells at one address, or with one cellId, would make the second replace the first
    // (or fail with an address conflict): not a notebook.
    let mut addresses = HashMap::new();
    let mut ids = HashMap::new();
    for (i, cell) in cells.iter().enumerate() {
        let twin = match (cell.address, &cell.cell_id) {
            (Some(a), _) if addresses.contains_key(&a) => {
                Some((addresses[&a], format!("the address {a}")))
            }
            (_, Some(id)) if ids.contains_key(id) => Some((ids[id], format!("the cellId {id:?}"))),
            _ => None,
        };
        if let Some((j, what)) = twin {
            return Err(format!(
                "cells {} and {} of the input have {what}",
                j + 1,
                i + 1
            ));
        }
        if let Some(a) = cell.address {
            addresses.insert(a, i);
        }
        if let Some(id) = &cell.cell_id {
            ids.insert(id, i);
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cells_in_order_with_optional_fields() {
        let cells = parse(
            r##"{"cells": [{"address": "B7", "code": "1", "cellId": "x"},
                           {"code": "# @A1\n2"}, {"address": null, "code": ""}]}"##,
        )
        .unwrap();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[0].address, Some("B7".parse().unwrap()));
        assert_eq!(cells[0].cell_id.as_deref(), Some("x"));
        assert_eq!(
            (cells[1].address, cells[1].code.as_str()),
            (None, "# @A1\n2")
        );
        assert_eq!(parse(r#"{"cells": []}"#).unwrap(), vec![]);
    }

    #[test]
    fn refuses_what_is_not_a_replay_document() {
        for (text, says) in [
            ("", "not a replay document"),
            ("[]", "not a replay document"),
            (r#"{"cells": 3}"#, "not a replay document"),
            (r#"{"cells": [{"address": "A1"}]}"#, "missing field `code`"),
            (r#"{"cells": [{"code": 1}]}"#, "invalid type"),
            (r#"{"cells": [], "extra": 1}"#, "unknown field `extra`"),
            (
                r#"{"cells": [{"adress": "A1", "code": ""}]}"#,
                "unknown field `adress`",
            ),
            (
                r#"{"cells": [{"address": "b7", "code": ""}]}"#,
                "cell 1 of the input",
            ),
            (
                r#"{"cells": [{"address": "A1", "code": ""}, {"address": "A1", "code": ""}]}"#,
                "cells 1 and 2 of the input have the address A1",
            ),
            (
                r#"{"cells": [{"code": "", "cellId": "c"}, {"code": "", "cellId": "c"}]}"#,
                "have the cellId \"c\"",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
