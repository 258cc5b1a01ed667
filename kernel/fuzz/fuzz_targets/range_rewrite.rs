//! The range rewrite (`A1:C4` → a call) never panics on any code, keeps code without ranges
//! byte for byte, finds ranges only within the grid, and is idempotent: its output has no
//! ranges left to rewrite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pysheets_kernel::sheet::rewrite_ranges;

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((out, ranges)) = rewrite_ranges(code, "rng") else {
        return;
    };
    if ranges.is_empty() {
        assert_eq!(out, code);
    }
    let colons = code.bytes().filter(|&b| b == b':').count();
    assert!(ranges.len() <= colons);
    for r in &ranges {
        assert!(r.start.col <= r.end.col && r.start.row <= r.end.row);
        let call = format!("rng(\"{}\", \"{}\")", r.start, r.end);
        assert!(out.contains(&call), "{call} not in {out:?}");
    }
    // Nothing the rewrite writes is itself a range (its corners are quoted).
    let again = rewrite_ranges(&out, "rng").expect("the output has no bad range");
    assert_eq!(again.0, out);
    assert!(again.1.is_empty());
});
