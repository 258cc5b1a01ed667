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

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn labels_with_and_without_titles() {
        assert_eq!(
            parse("# @B3\n1"),
            Some(Label {
                address: addr("B3"),
                title: String::new(),
                lazy: false
            })
        );
        let l = parse("  #@AB12 total revenue  \nx").unwrap();
        assert_eq!(
            (l.address, l.title.as_str(), l.lazy),
            (addr("AB12"), "total revenue", false)
        );
        let l = parse("# @C1 slow model lazy").unwrap();
        assert_eq!((l.title.as_str(), l.lazy), ("slow model", true));
        let l = parse("# @C1 lazy").unwrap();
        assert_eq!((l.title.as_str(), l.lazy), ("", true));
    }

    #[test]
    fn not_labels() {
        assert_eq!(parse("x = 1  # @A1"), None);
        assert_eq!(parse("# A1"), None);
        assert_eq!(parse("# @a1"), None);
        assert_eq!(parse("# @A0"), None);
        assert_eq!(parse("# @email@example.com"), None);
        assert_eq!(parse("\n# @A1"), None);
        assert_eq!(parse(""), None);
    }
}
