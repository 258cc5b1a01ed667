//! Cell labels: `# @B3 total revenue` on a cell's first line names its address.

use crate::sheet::Address;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub address: Address,
    pub title: String,
    /// A final word `lazy` opts the cell into lazy re-runs.
    pub lazy: bool,
}

/// The label on the first line of `code`, if it has one.
pub fn parse(code: &str) -> Option<Label> {
    let first = code.lines().next()?.trim();
    let rest = first.strip_prefix('#')?.trim_start().strip_prefix('@')?;
    let (token, title) = match rest.split_once(char::is_whitespace) {
        Some((token, title)) => (token, title.trim()),
        None => (rest, ""),
    };
    let address: Address = token.parse().ok()?;
    let (title, lazy) = match title.rsplit_once(char::is_whitespace) {
        Some((head, "lazy")) => (head.trim(), true),
        None if title == "lazy" => ("", true),
        _ => (title, false),
    };
    Some(Label {
        address,
        title: title.to_string(),
        lazy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The label grammar's table of cases, shared with the extension's jest suite
    /// (`labextension/src/__tests__/labels.spec.ts`), so both parsers agree.
    const TABLE: &str = include_str!("../../tests/data/labels.json");

    #[test]
    fn the_shared_table_of_labels() {
        let table: Value = serde_json::from_str(TABLE).expect("labels.json is JSON");
        let cases = table["cases"].as_array().expect("labels.json has cases");
        assert!(cases.len() >= 30, "only {} cases", cases.len());
        let mut wrong = Vec::new();
        for case in cases {
            let code = case["code"].as_str().expect("each case has code");
            let want = match &case["label"] {
                Value::Null => None,
                label => Some((
                    label["address"].as_str().expect("address").to_string(),
                    label["title"].as_str().expect("title").to_string(),
                    label["lazy"].as_bool().expect("lazy"),
                )),
            };
            let got = parse(code).map(|l| (l.address.to_string(), l.title, l.lazy));
            if got != want {
                wrong.push(format!(
                    "{code:?} ({}): expected {want:?}, got {got:?}",
                    case["note"].as_str().unwrap_or("")
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "labels.json disagrees:\n{}",
            wrong.join("\n")
        );
    }
}
