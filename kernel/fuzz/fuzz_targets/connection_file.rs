//! The connection file parser, on any text: an error or a usable ConnectionInfo, never a
//! panic; what it accepts gives endpoints and a signer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pysheets_kernel::protocol::connection::ConnectionInfo;
use pysheets_kernel::protocol::signing::Signer;

fuzz_target!(|text: &str| {
    let Ok(info) = ConnectionInfo::from_json(text) else {
        return;
    };
    for port in [
        info.shell_port,
        info.iopub_port,
        info.stdin_port,
        info.control_port,
        info.hb_port,
    ] {
        let endpoint = info.endpoint(port);
        assert!(endpoint.starts_with("tcp://") || endpoint.starts_with("ipc://"));
    }
    let signer = Signer::new(&info.key);
    assert_eq!(
        signer.sign([b"a", b"b", b"c", b"d"]).is_empty(),
        info.key.is_empty()
    );
});
