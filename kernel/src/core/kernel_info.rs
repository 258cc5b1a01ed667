//! What the kernel says about itself in kernel_info_reply.

use crate::protocol::wire::PROTOCOL_VERSION;
use serde_json::{json, Value};

pub fn content(python_version: &str) -> Value {
    json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "pysheets",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "python",
            "version": python_version,
            "mimetype": "text/x-python",
            "file_extension": ".py",
            "pygments_lexer": "ipython3",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "nbconvert_exporter": "python",
        },
        "banner": format!(
            "PySheets {} — a live spreadsheet of Python {python_version}\n",
            env!("CARGO_PKG_VERSION")
        ),
        "help_links": [],
        "debugger": false,
    })
}
