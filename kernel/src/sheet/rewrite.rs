//! Finding `A1:C4` ranges in Python source and rewriting them into calls.
//!
//! `A1:C4` is not valid Python as an expression, so before a cell's code is
//! compiled every range token is replaced by a call, `rng("A1", "C4")`, that the
//! Python side implements. The rule for what counts as a range token:
//!
//! * two addresses joined by a single colon with **no whitespace**: `A1:C4`. With
//!   any space around the colon (`x[A1 : B2]`, `{A1: B2}`) it is ordinary Python;
//! * both addresses are whole identifiers: not `xA1:B2`, `A1:B2x`, `A1_:B2`, nor an
//!   attribute `obj.A1:B2` (a `.` before the first address, spaces allowed);
//! * it is a range *everywhere* outside strings and comments, including inside
//!   `[]`, `{}` and call parentheses. In particular `{A1:B2}` is a set holding a
//!   range, not a dict: write `{A1: B2}` (PEP 8 spacing) for a dict keyed by A1's
//!   value, and `x[A1 : B2]` for a slice between two cells' values;
//! * a chain `A1:B2:C3` pairs from the left: `rng("A1", "B2"):C3`;
//! * string literals (any quote style, triple-quoted, any prefix such as `r`,
//!   `b`, `f`, `rb`, with backslash escapes) and `#` comments are left alone.
//!   That includes f-string replacement fields: `f"{A1:B2}"` is A1 formatted with
//!   format spec `B2` in Python, and it is not rewritten.

use super::address::{Address, AddressError, Range};

/// A range token with a corner past the grid (`A1:XFE2`, `A1:A1048577`, `A0:B2`): a clear error
/// naming it, rather than ordinary Python that fails later with a confusing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the range {token} is outside the sheet (A1:XFD1048576): {reason}")]
pub struct RangeError {
    /// The range as written.
    pub token: String,
    /// Which corner is out, and why.
    pub reason: AddressError,
}

/// Whether `name` is a cell address such as `A1` or `XFD1048576` (uppercase,
/// within Excel's limits). Other identifiers (`a1`, `XFE1`, `A01`) are names.
pub fn is_address(name: &str) -> bool {
    name.parse::<Address>().is_ok()
}

/// Replaces every range token of `code` (see the module docs for the rule) with
/// `{call}("A1", "C4")` and returns the new code with the ranges, in source order
/// (repeats included). Corners are normalised: `C4:A1` becomes `call("A1", "C4")`.
///
/// Everything else is copied byte for byte, so line and column numbers only move
/// on lines holding a range.
///
/// A token of the range shape whose corners are both capital letters then digits, one of
/// them past the grid's limits (`A1:XFE2`, `A0:B2`), is a [`RangeError`]: the grid has no
/// such cells, and as Python it would only be a baffling syntax error.
pub fn rewrite_ranges(code: &str, call: &str) -> Result<(String, Vec<Range>), RangeError> {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut ranges = Vec::new();
    // `code[copied..i]` is pending output; ranges splice in at token boundaries,
    // which are always ASCII, hence char boundaries.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'#' {
            i = skip_line(bytes, i);
        } else if b == b'"' || b == b'\'' {
            i = skip_string(bytes, i);
        } else if b.is_ascii_digit() {
            // A number literal (`12`, `1e5`, `0xA1`, `1_000.5j`): its letters are
            // not identifiers.
            i = skip_while(bytes, i, |c| is_ident_byte(c) || c == b'.');
        } else if is_ident_start(b) {
            let end = skip_while(bytes, i, is_ident_byte);
            if matches!(bytes.get(end), Some(b'"' | b'\'')) && is_string_prefix(&code[i..end]) {
                i = skip_string(bytes, end);
            } else if let Some((first, second, range_end)) = range_shape(code, i, end) {
                match (first.parse::<Address>(), second.parse::<Address>()) {
                    (Ok(a), Ok(b)) => {
                        let range = Range::new(a, b);
                        out.push_str(&code[copied..i]);
                        out.push_str(&format!("{call}(\"{}\", \"{}\")", range.start, range.end));
                        ranges.push(range);
                        copied = range_end;
                        i = range_end;
                    }
                    (a, b) => {
                        let beyond = |r: Result<Address, AddressError>| match r {
                            Err(
                                e @ (AddressError::ColumnOutOfRange(_)
                                | AddressError::RowOutOfRange(_)),
                            ) => Some(e),
                            _ => None,
                        };
                        let shaped = |t: &str| {
                            let n = t.bytes().take_while(u8::is_ascii_uppercase).count();
                            n > 0 && t.len() > n && t.bytes().skip(n).all(|c| c.is_ascii_digit())
                        };
                        if shaped(first) && shaped(second) {
                            if let Some(reason) = beyond(a).or_else(|| beyond(b)) {
                                return Err(RangeError {
                                    token: code[i..range_end].to_string(),
                                    reason,
                                });
                            }
                        }
                        i = end;
                    }
                }
            } else {
                i = end;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&code[copied..]);
    Ok((out, ranges))
}

/// If the identifier `code[start..end]` begins a range-shaped token (`X:Y`, two
/// identifiers and a colon, no spaces, not an attribute), its two words and the index just
/// past it.
fn range_shape(code: &str, start: usize, end: usize) -> Option<(&str, &str, usize)> {
    let bytes = code.as_bytes();
    if bytes.get(end) != Some(&b':') || preceded_by_dot(bytes, start) {
        return None;
    }
    let second_start = end + 1;
    if !bytes.get(second_start).copied().is_some_and(is_ident_start) {
        return None;
    }
    let second_end = skip_while(bytes, second_start, is_ident_byte);
    Some((
        &code[start..end],
        &code[second_start..second_end],
        second_end,
    ))
}

/// Whether the last non-blank byte before `at` is a `.` (attribute access).
fn preceded_by_dot(bytes: &[u8], at: usize) -> bool {
    bytes[..at]
        .iter()
        .rev()
        .find(|&&c| c != b' ' && c != b'\t')
        .is_some_and(|&c| c == b'.')
}

/// Identifier bytes. Every byte of a non-ASCII character counts, so `éA1` is one
/// identifier and its `A1` is not an address.
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_ident_start(b: u8) -> bool {
    is_ident_byte(b) && !b.is_ascii_digit()
}

/// Python string prefixes: any case and order of `r` with one of `b`, `f`, `u`
/// or `t` (template strings), or those letters alone.
fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    )
}

fn skip_while(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

/// From a `#`, the index of the newline ending the comment (or the end).
fn skip_line(bytes: &[u8], i: usize) -> usize {
    skip_while(bytes, i, |c| c != b'\n')
}

/// From the opening quote at `i`, the index just past the closing quote. A
/// backslash always skips the next byte: even in raw strings `\"` does not close
/// the literal. An unterminated single-quoted string stops at the end of the
/// line (Python would reject it anyway); an unterminated triple-quoted one runs
/// to the end of the code.
fn skip_string(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let triple = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'\n' if !triple => return j,
            c if c == quote => {
                if !triple {
                    return j + 1;
                }
                if bytes.get(j + 1) == Some(&quote) && bytes.get(j + 2) == Some(&quote) {
                    return j + 3;
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(code: &str) -> String {
        rewrite_ranges(code, "rng").unwrap().0
    }

    fn r(s: &str) -> Range {
        s.parse().unwrap()
    }

    #[test]
    fn is_address_matches_only_addresses() {
        assert!(is_address("A1") && is_address("AB12") && is_address("XFD1048576"));
        for name in ["a1", "x", "A", "A0", "A01", "XFE1", "A1048577", "A1_", "df"] {
            assert!(!is_address(name), "{name}");
        }
    }

    #[test]
    fn rewrites_ranges_in_expressions() {
        let (code, ranges) = rewrite_ranges("total = sum(A1:C4) + B2", "rng").unwrap();
        assert_eq!(code, "total = sum(rng(\"A1\", \"C4\")) + B2");
        assert_eq!(ranges, vec![r("A1:C4")]);

        assert_eq!(rw("A1:B2"), "rng(\"A1\", \"B2\")");
        assert_eq!(
            rw("x = [A1:A3, AB12:AC13]"),
            "x = [rng(\"A1\", \"A3\"), rng(\"AB12\", \"AC13\")]"
        );
        assert_eq!(
            rw("f(A1:B2)\ng(\n  C3:D4,\n)"),
            "f(rng(\"A1\", \"B2\"))\ng(\n  rng(\"C3\", \"D4\"),\n)"
        );
        // Reversed corners are normalised.
        assert_eq!(
            rewrite_ranges("C4:A1", "rng"),
            Ok(("rng(\"A1\", \"C4\")".into(), vec![r("A1:C4")]))
        );
        // Inside indexing without spaces it is still a range.
        assert_eq!(rw("df[A1:B2]"), "df[rng(\"A1\", \"B2\")]");
        // Chains pair from the left.
        assert_eq!(rw("x[A1:B2:C3]"), "x[rng(\"A1\", \"B2\"):C3]");
        // Followed by an attribute or call.
        assert_eq!(rw("A1:B2.sum()"), "rng(\"A1\", \"B2\").sum()");
        // Non-ASCII code around is kept intact.
        assert_eq!(rw("é = A1:A2  # ü"), "é = rng(\"A1\", \"A2\")  # ü");
    }

    #[test]
    fn dict_literals_without_spaces_are_ranges() {
        assert_eq!(rw("{A1:B2}"), "{rng(\"A1\", \"B2\")}");
        assert_eq!(rw("{A1: B2}"), "{A1: B2}");
        assert_eq!(rw("{A1 :B2}"), "{A1 :B2}");
        assert_eq!(rw("{'k': A1, B1: C1}"), "{'k': A1, B1: C1}");
    }

    #[test]
    fn leaves_ordinary_python_alone() {
        for code in [
            "x[a:b]",
            "x[1:2]",
            "x[i1:i2]",
            "x[A1 : B2]",
            "x[A1: B2]",
            "x[A1 :B2]",
            "x[a1:b2]",
            "xA1:B2",
            "A1:B2x",
            "A1_:B2",
            "A1:_B2",
            "obj.A1:B2",
            "obj . A1:B2",
            "A01:B2",
            "a1:xfe2",
            "1A1:B2",
            "0xA1:B2",
            "A1:2",
            "A1:=3",
            "lambda x:x",
            "def f(x:int): pass",
            "éA1:B2",
            "A1:B2é",
        ] {
            assert_eq!(
                rewrite_ranges(code, "rng"),
                Ok((code.to_string(), vec![])),
                "{code}"
            );
        }
    }

    #[test]
    fn skips_strings_and_comments() {
        for code in [
            "'A1:B2'",
            "\"A1:B2\"",
            "'''A1:B2\nC1:D2'''",
            "\"\"\"\nA1:B2\n\"\"\"",
            "r'A1:B2'",
            "b\"A1:B2\"",
            "f'{A1:B2}'",
            "rb'A1:B2'",
            "BR'A1:B2'",
            "Rf\"A1:B2\"",
            "u'A1:B2'",
            "t'{A1:B2}'",
            "# A1:B2",
            "x = 1  # sum(A1:B2)",
            "'it\\'s A1:B2'",
            "\"say \\\"A1:B2\\\"\"",
            "r'\\'A1:B2'",
            "'''don't A1:B2 '' '''",
        ] {
            assert_eq!(
                rewrite_ranges(code, "rng"),
                Ok((code.to_string(), vec![])),
                "{code}"
            );
        }
        // Code after strings and comments is still scanned.
        assert_eq!(
            rw("s = 'A1:B2' + str(A1:B2)"),
            "s = 'A1:B2' + str(rng(\"A1\", \"B2\"))"
        );
        assert_eq!(rw("# A1:B2\nA1:B2"), "# A1:B2\nrng(\"A1\", \"B2\")");
        assert_eq!(
            rw("'''\nA1:B2'''; C1:C2"),
            "'''\nA1:B2'''; rng(\"C1\", \"C2\")"
        );
        assert_eq!(rw("'a\\\\'; A1:A2"), "'a\\\\'; rng(\"A1\", \"A2\")");
        assert_eq!(rw("\"\"; A1:A2"), "\"\"; rng(\"A1\", \"A2\")");
        // A name that merely ends like a prefix is not a prefix.
        assert_eq!(rw("bar'x'; A1:A2"), "bar'x'; rng(\"A1\", \"A2\")");
        // An unterminated single-quoted string ends at the newline.
        assert_eq!(rw("'oops\nA1:A2"), "'oops\nrng(\"A1\", \"A2\")");
        // An unterminated triple-quoted string swallows the rest.
        assert_eq!(rw("'''oops\nA1:A2"), "'''oops\nA1:A2");
    }

    #[test]
    fn returns_ranges_in_source_order_with_repeats() {
        let (_, ranges) = rewrite_ranges("A1:A2 + B1:B2 + A1:A2", "rng").unwrap();
        assert_eq!(ranges, vec![r("A1:A2"), r("B1:B2"), r("A1:A2")]);
    }

    #[test]
    fn a_range_past_the_grid_is_an_error_naming_it() {
        let err = |code: &str| rewrite_ranges(code, "rng").unwrap_err();
        let e = err("total = sum(A1:XFE2)");
        assert_eq!(e.token, "A1:XFE2");
        assert_eq!(
            e.to_string(),
            "the range A1:XFE2 is outside the sheet (A1:XFD1048576): cell address \"XFE2\" is \
             out of range: the last column is XFD"
        );
        assert_eq!(err("x = A1:A1048577").token, "A1:A1048577");
        assert_eq!(err("A0:B2").token, "A0:B2");
        assert_eq!(err("[B2, ZZZZ1:A1]").token, "ZZZZ1:A1");
        // The whole grid is fine; inside strings, or spaced, it is not a range at all.
        assert_eq!(rw("sum(A1:XFD1048576)"), "sum(rng(\"A1\", \"XFD1048576\"))");
        assert_eq!(rw("'A1:XFE2' # A0:B2"), "'A1:XFE2' # A0:B2");
        assert_eq!(rw("x[A1 : XFE2]"), "x[A1 : XFE2]");
    }
}
