//! Cell addresses (`B3`) and rectangular ranges (`A1:C4`), with Excel's limits.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Number of columns in a sheet: `A` … `XFD`, as in Excel.
pub const MAX_COLS: u32 = 16_384;
/// Number of rows in a sheet: `1` … `1048576`, as in Excel.
pub const MAX_ROWS: u32 = 1_048_576;

/// Why a piece of text is not an address or a range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Not letters followed by a row number at all (`"b3"`, `"3B"`, `"B03"`, `""`).
    #[error(
        "malformed cell address {0:?}: expected uppercase column letters A-XFD \
         followed by a row number 1-1048576 without leading zeros, like \"B3\""
    )]
    Malformed(String),
    /// The column letters are past `XFD`.
    #[error("cell address {0:?} is out of range: the last column is XFD")]
    ColumnOutOfRange(String),
    /// The row number is 0 or past 1048576.
    #[error("cell address {0:?} is out of range: rows go from 1 to 1048576")]
    RowOutOfRange(String),
    /// 0-based indices given to [`Address::new`] are past the limits.
    #[error(
        "cell index (col {col}, row {row}) is out of range: at most 16384 columns and 1048576 rows"
    )]
    IndexOutOfRange {
        /// 0-based column.
        col: u32,
        /// 0-based row.
        row: u32,
    },
    /// Not two addresses joined by a colon.
    #[error(
        "malformed range {0:?}: expected two cell addresses joined by a colon, like \"A1:C4\""
    )]
    MalformedRange(String),
}

/// One cell of the sheet. Both indices are 0-based: `B3` is `{ col: 1, row: 2 }`.
///
/// Addresses order row-major (`A1 < B1 < A2`): that is "sheet order", the order
/// used to decide which of several definitions of a name a cell sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// 0-based column: `A` is 0, `XFD` is 16383.
    pub col: u32,
    /// 0-based row: row `1` is 0.
    pub row: u32,
}

impl Address {
    /// The address at 0-based `col` and `row`, if it is within the sheet's limits.
    pub fn new(col: u32, row: u32) -> Result<Self, AddressError> {
        if col < MAX_COLS && row < MAX_ROWS {
            Ok(Address { col, row })
        } else {
            Err(AddressError::IndexOutOfRange { col, row })
        }
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.row, self.col).cmp(&(other.row, other.col))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Column letters for a 0-based column: 0 → `A`, 25 → `Z`, 26 → `AA`.
/// (Bijective base 26: there is no zero digit.)
/// The column's letters (`A`…`XFD`), at most three, and how many there are.
fn column_letters(col: u32) -> ([u8; 3], usize) {
    let mut letters = [0u8; 3];
    let mut len = 0;
    let mut n = u64::from(col) + 1;
    while n > 0 && len < 3 {
        n -= 1;
        letters[len] = b'A' + (n % 26) as u8;
        len += 1;
        n /= 26;
    }
    letters[..len].reverse();
    (letters, len)
}

/// Appends `n` in decimal to `out`.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Address {
    /// Appends the address's text (`B3`) to `out`, without the formatting machinery: the
    /// journal writes one for every re-run cell.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        let (letters, len) = column_letters(self.col);
        out.extend_from_slice(&letters[..len]);
        push_decimal(out, u64::from(self.row) + 1);
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(10);
        self.push_to(&mut text);
        f.write_str(std::str::from_utf8(&text).expect("ASCII"))
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// Parses `B3`. Only uppercase letters are accepted (in Python code `a1` is an
    /// ordinary name), and the row has no leading zeros (`A01` is not an address).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || AddressError::Malformed(s.to_string());
        let n_letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
        let (letters, digits) = s.split_at(n_letters);
        if letters.is_empty()
            || digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.starts_with('0') && digits.len() > 1)
        {
            return Err(malformed());
        }
        // More than three letters is always past XFD; checking first also keeps
        // the arithmetic below from overflowing.
        if letters.len() > 3 {
            return Err(AddressError::ColumnOutOfRange(s.to_string()));
        }
        let col = letters
            .bytes()
            .fold(0u32, |acc, b| acc * 26 + u32::from(b - b'A') + 1)
            - 1;
        if col >= MAX_COLS {
            return Err(AddressError::ColumnOutOfRange(s.to_string()));
        }
        // At most 7 digits fit the limit; longer would also overflow u32.
        let row: u32 = if digits.len() > 7 {
            0
        } else {
            digits.parse().map_err(|_| malformed())?
        };
        if row == 0 || row > MAX_ROWS {
            return Err(AddressError::RowOutOfRange(s.to_string()));
        }
        Ok(Address { col, row: row - 1 })
    }
}

/// A rectangle of cells, `start` top-left and `end` bottom-right, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Range {
    /// Top-left corner.
    pub start: Address,
    /// Bottom-right corner.
    pub end: Address,
}

impl Range {
    /// The range spanned by two corners, in any order: `new(C4, A1)` is `A1:C4`,
    /// and so is `new(A4, C1)`.
    pub fn new(a: Address, b: Address) -> Self {
        Range {
            start: Address {
                col: a.col.min(b.col),
                row: a.row.min(b.row),
            },
            end: Address {
                col: a.col.max(b.col),
                row: a.row.max(b.row),
            },
        }
    }

    /// Number of rows the range spans (`A1:C4` → 4).
    pub fn rows(&self) -> u32 {
        self.end.row - self.start.row + 1
    }

    /// Number of columns the range spans (`A1:C4` → 3).
    pub fn cols(&self) -> u32 {
        self.end.col - self.start.col + 1
    }

    /// Number of cells in the range. `u64` because a whole sheet has 2^34 cells.
    pub fn cell_count(&self) -> u64 {
        u64::from(self.rows()) * u64::from(self.cols())
    }

    /// Whether `addr` lies inside the range.
    pub fn contains(&self, addr: Address) -> bool {
        (self.start.col..=self.end.col).contains(&addr.col)
            && (self.start.row..=self.end.row).contains(&addr.row)
    }

    /// Every address of the range, row by row: `A1:B2` gives `A1, B1, A2, B2`.
    pub fn addresses(&self) -> Addresses {
        Addresses {
            range: *self,
            next: Some(self.start),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start, self.end)
    }
}

impl FromStr for Range {
    type Err = AddressError;

    /// Parses `A1:C4` (no spaces); corners may be given in any order.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| AddressError::MalformedRange(s.to_string()))?;
        Ok(Range::new(a.parse()?, b.parse()?))
    }
}

impl IntoIterator for Range {
    type Item = Address;
    type IntoIter = Addresses;

    fn into_iter(self) -> Addresses {
        self.addresses()
    }
}

/// Iterator over a [`Range`]'s addresses, row by row (see [`Range::addresses`]).
#[derive(Debug, Clone)]
pub struct Addresses {
    range: Range,
    next: Option<Address>,
}

impl Iterator for Addresses {
    type Item = Address;

    fn next(&mut self) -> Option<Address> {
        let current = self.next?;
        self.next = if current.col < self.range.end.col {
            Some(Address {
                col: current.col + 1,
                ..current
            })
        } else if current.row < self.range.end.row {
            Some(Address {
                col: self.range.start.col,
                row: current.row + 1,
            })
        } else {
            None
        };
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self.next {
            None => 0,
            Some(at) => {
                let full_rows_below = u64::from(self.range.end.row - at.row);
                let rest_of_row = u64::from(self.range.end.col - at.col) + 1;
                full_rows_below * u64::from(self.range.cols()) + rest_of_row
            }
        };
        match usize::try_from(left) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_displays() {
        assert_eq!(a("A1"), Address { col: 0, row: 0 });
        assert_eq!(a("B3"), Address { col: 1, row: 2 });
        assert_eq!(a("Z9"), Address { col: 25, row: 8 });
        assert_eq!(a("AA1"), Address { col: 26, row: 0 });
        assert_eq!(a("AB12"), Address { col: 27, row: 11 });
        assert_eq!(a("AZ1").col, 51);
        assert_eq!(a("BA1").col, 52);
        assert_eq!(a("ZZ1").col, 701);
        assert_eq!(a("AAA1").col, 702);
        assert_eq!(
            a("XFD1048576"),
            Address {
                col: MAX_COLS - 1,
                row: MAX_ROWS - 1
            }
        );
        for s in [
            "A1",
            "B3",
            "Z26",
            "AA1",
            "AZ10",
            "ZZ99",
            "AAA1",
            "XFD1048576",
        ] {
            assert_eq!(a(s).to_string(), s);
        }
        for col in 0..MAX_COLS {
            let addr = Address { col, row: 0 };
            assert_eq!(a(&addr.to_string()), addr);
        }
    }

    #[test]
    fn rejects_malformed_and_out_of_limit() {
        for s in [
            "", "A", "1", "1A", "a1", "Ab1", "A1B", "A-1", "A01", " A1", "A1 ", "$A$1", "Ä1",
        ] {
            assert_eq!(
                s.parse::<Address>(),
                Err(AddressError::Malformed(s.into())),
                "{s:?}"
            );
        }
        for s in ["XFE1", "ZZZ1", "AAAA1"] {
            assert_eq!(
                s.parse::<Address>(),
                Err(AddressError::ColumnOutOfRange(s.into()))
            );
        }
        for s in ["A0", "A1048577", "A99999999999999999999"] {
            assert_eq!(
                s.parse::<Address>(),
                Err(AddressError::RowOutOfRange(s.into()))
            );
        }
        assert_eq!(
            AddressError::ColumnOutOfRange("XFE1".into()).to_string(),
            "cell address \"XFE1\" is out of range: the last column is XFD"
        );
        assert_eq!(Address::new(16_383, 1_048_575), Ok(a("XFD1048576")));
        assert!(Address::new(16_384, 0).is_err());
        assert!(Address::new(0, 1_048_576).is_err());
    }

    #[test]
    fn orders_row_major() {
        let mut v = vec![a("B2"), a("A2"), a("C1"), a("A1"), a("AA1")];
        v.sort();
        assert_eq!(v, vec![a("A1"), a("C1"), a("AA1"), a("A2"), a("B2")]);
    }

    #[test]
    fn ranges() {
        let r: Range = "A1:C4".parse().unwrap();
        assert_eq!((r.start, r.end), (a("A1"), a("C4")));
        assert_eq!((r.rows(), r.cols(), r.cell_count()), (4, 3, 12));
        assert_eq!(r.to_string(), "A1:C4");
        // Normalised to top-left / bottom-right whatever corners are given.
        assert_eq!("C4:A1".parse::<Range>(), Ok(r));
        assert_eq!("A4:C1".parse::<Range>(), Ok(r));
        assert!(r.contains(a("B2")) && r.contains(a("A1")) && r.contains(a("C4")));
        assert!(!r.contains(a("D1")) && !r.contains(a("A5")));

        let cells: Vec<String> = "A1:B3"
            .parse::<Range>()
            .unwrap()
            .addresses()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(cells, ["A1", "B1", "A2", "B2", "A3", "B3"]);
        let one: Range = "B2:B2".parse().unwrap();
        assert_eq!(one.addresses().collect::<Vec<_>>(), vec![a("B2")]);

        let mut it = r.addresses();
        assert_eq!(it.size_hint(), (12, Some(12)));
        it.nth(4);
        assert_eq!(it.size_hint(), (7, Some(7)));
        assert_eq!(it.count(), 7);

        assert_eq!(
            "A1".parse::<Range>(),
            Err(AddressError::MalformedRange("A1".into()))
        );
        assert_eq!(
            "A1:XFE2".parse::<Range>(),
            Err(AddressError::ColumnOutOfRange("XFE2".into()))
        );
        assert_eq!(
            "A1 : B2".parse::<Range>(),
            Err(AddressError::Malformed("A1 ".into()))
        );
    }
}
