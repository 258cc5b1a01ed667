//! Addresses and ranges: parsing never panics, and what parses prints back as the same text
//! (the grammar has one spelling per cell: capitals, no leading zeros), and every in-limit
//! index pair prints as text that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pysheets_kernel::sheet::{Address, Range, MAX_COLS, MAX_ROWS};

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let col = u32::from_le_bytes(data[0..4].try_into().unwrap());
        let row = u32::from_le_bytes(data[4..8].try_into().unwrap());
        match Address::new(col, row) {
            Ok(a) => {
                let text = a.to_string();
                assert_eq!(text.parse::<Address>(), Ok(a), "{text}");
                let mut pushed = Vec::new();
                a.push_to(&mut pushed);
                assert_eq!(pushed, text.as_bytes());
            }
            Err(_) => assert!(col >= MAX_COLS || row >= MAX_ROWS),
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = text.parse::<Address>() {
        assert!(a.col < MAX_COLS && a.row < MAX_ROWS);
        assert_eq!(a.to_string(), text);
    }
    if let Ok(r) = text.parse::<Range>() {
        assert!(r.start.col <= r.end.col && r.start.row <= r.end.row);
        assert_eq!(r.to_string().parse::<Range>(), Ok(r));
        assert!(r.contains(r.start) && r.contains(r.end));
        assert_eq!(r.cell_count(), u64::from(r.rows()) * u64::from(r.cols()));
        // Both corners as written parse, in whichever order they came.
        let (a, b) = text.split_once(':').unwrap();
        assert_eq!(Range::new(a.parse().unwrap(), b.parse().unwrap()), r);
    }
});
