//! Labels: reading one never panics; `parse` is `read` without the error; a label read
//! prints back (`# @B3 title lazy :.1%`) as text that reads as the same label.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pysheets_kernel::core::labels::{parse, read};

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let got = read(code);
    assert_eq!(parse(code), got.clone().ok().flatten());
    match got {
        Ok(Some(label)) => {
            assert_eq!(label.title, label.title.trim());
            let mut text = format!("# @{}", label.address);
            if !label.title.is_empty() {
                text.push(' ');
                text.push_str(&label.title);
            }
            if label.lazy {
                text.push_str(" lazy");
            }
            if let Some(format) = &label.format {
                assert!(!format.is_empty() && !format.contains(char::is_whitespace));
                text.push_str(" :");
                text.push_str(format);
            }
            assert_eq!(read(&text), Ok(Some(label)), "{text:?}");
        }
        Ok(None) => {}
        Err(e) => {
            // The error names the word after `@` as written.
            assert!(code.contains(&format!("@{}", e.token)));
        }
    }
});
