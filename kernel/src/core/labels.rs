//! Cell labels: `# @B3 total revenue` on a cell's first line names its address.

use crate::sheet::Address;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub address: Address,
    pub title: String,
    /// A final word `lazy` opts the cell into lazy re-runs.
    pub lazy: bool,
    /// A final word `:spec` is the number format its numbers show with (Python's format-spec
    /// mini-language: `:.1%`, `:,.2f`), without the colon.
    pub format: Option<String>,
}

/// A first line that is meant as a label but names no address (`# @A0`, `# @b3`): the cell is
/// neither run nor placed, so it cannot land somewhere its author did not say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the label \"@{token}\" names no cell: {why}")]
pub struct LabelError {
    /// The word after `@`.
    pub token: String,
    /// What is wrong with it.
    pub why: String,
}

/// The label on the first line of `code`, if it has one; `None` for an invalid one too (see
/// [`read`], which tells the two apart).
pub fn parse(code: &str) -> Option<Label> {
    read(code).ok().flatten()
}

/// The label on the first line of `code`: `Ok(None)` when the line is not a label at all (a
/// comment, `# @email@example.com`), an error when it is meant as one but is not an address
/// of the sheet. "Meant as one" is `# @` then ASCII letters then a digit (`# @A0`, `# @b3`,
/// `# @XFE1`, `# @B3x`, `# @B3:C4`): the shape of an address.
pub fn read(code: &str) -> Result<Option<Label>, LabelError> {
    let Some(first) = code.lines().next().map(str::trim) else {
        return Ok(None);
    };
    let Some(rest) = first
        .strip_prefix('#')
        .and_then(|r| r.trim_start().strip_prefix('@'))
    else {
        return Ok(None);
    };
    let (token, title) = match rest.split_once(char::is_whitespace) {
        Some((token, title)) => (token, title.trim()),
        None => (rest, ""),
    };
    let address: Address = match token.parse() {
        Ok(address) => address,
        Err(e) if looks_like_an_address(token) => {
            return Err(LabelError {
                token: token.to_string(),
                why: why_not(token, &e),
            })
        }
        Err(_) => return Ok(None),
    };
    // The title's last words may be `lazy` and a `:spec` number format, in either order.
    let mut title = title;
    let (mut lazy, mut format) = (false, None);
    loop {
        let (head, word) = title
            .rsplit_once(char::is_whitespace)
            .unwrap_or(("", title));
        if word == "lazy" && !lazy {
            lazy = true;
        } else if word.len() > 1 && word.starts_with(':') && format.is_none() {
            format = Some(word[1..].to_string());
        } else {
            break;
        }
        title = head.trim_end();
    }
    Ok(Some(Label {
        address,
        title: title.to_string(),
        lazy,
        format,
    }))
}

/// ASCII letters followed by a digit: what an address starts with.
fn looks_like_an_address(token: &str) -> bool {
    let letters = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    letters > 0
        && token
            .as_bytes()
            .get(letters)
            .is_some_and(u8::is_ascii_digit)
}

fn why_not(token: &str, e: &crate::sheet::AddressError) -> String {
    let letters = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (col, row) = token.split_at(letters);
    if col.bytes().any(|b| b.is_ascii_lowercase()) {
        let upper = format!("{}{row}", col.to_ascii_uppercase());
        if upper.parse::<Address>().is_ok() {
            return format!(
                "columns are capital letters (a lower-case name like {token} is an \
                 ordinary Python name): write @{upper}"
            );
        }
    }
    if !row.bytes().all(|b| b.is_ascii_digit()) {
        return "an address is column letters then a row number, with nothing after it \
                (a title follows a space: `# @B3 total`)"
            .into();
    }
    e.to_string()
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
                    label["format"].as_str().map(String::from),
                )),
            };
            let got = parse(code).map(|l| (l.address.to_string(), l.title, l.lazy, l.format));
            // `"error": true` marks a label meant as one that names no address.
            let error = case["error"].as_bool().unwrap_or(false);
            if read(code).is_err() != error {
                wrong.push(format!(
                    "{code:?}: expected error {error}, got {:?}",
                    read(code)
                ));
            }
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

    #[test]
    fn an_invalid_label_says_why() {
        let err = |code: &str| read(code).unwrap_err().to_string();
        assert_eq!(
            err("# @A0\n1"),
            "the label \"@A0\" names no cell: cell address \"A0\" is out of range: rows go \
             from 1 to 1048576"
        );
        assert_eq!(
            err("# @XFE1 rent"),
            "the label \"@XFE1\" names no cell: cell address \"XFE1\" is out of range: the \
             last column is XFD"
        );
        assert!(err("# @b3").contains("write @B3"), "{}", err("# @b3"));
        assert!(
            err("# @A01").contains("without leading zeros"),
            "{}",
            err("# @A01")
        );
        assert!(
            err("# @B3:C4").contains("nothing after it"),
            "{}",
            err("# @B3:C4")
        );
        // Not meant as labels: no error, no label.
        for code in [
            "# @email@example.com",
            "# @",
            "# @B",
            "# @3B",
            "# hello",
            "x = 1",
        ] {
            assert_eq!(read(code), Ok(None), "{code:?}");
        }
    }
}
