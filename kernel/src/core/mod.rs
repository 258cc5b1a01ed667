//! What each request does, between the protocol (sockets, frames) and the Python runtime.
//!
//! Shell requests are served in order on the Python thread (`shell`); control requests on the
//! socket runtime (`control`), so they are answered while a cell runs.

pub mod control;
pub mod history;
pub mod interrupt;
pub mod kernel_info;
pub mod labels;
pub mod launch;
pub mod reactive;
pub mod sheet_view;
pub mod shell;

use crate::protocol::sockets::Outbox;

/// Ends the process once IOPub has sent what is queued (shutdown_request on shell).
pub fn exit_after_flush(outbox: &Outbox) -> ! {
    outbox.flush_blocking();
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::process::exit(0)
}
