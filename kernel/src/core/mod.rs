//! What each request does, between the protocol (sockets, frames) and the Python runtime.
//!
//! Shell requests are served in order on the Python thread (`shell`); control requests on the
//! socket runtime (`control`), so they are answered while a cell runs. `replay` evaluates cells
//! with the same sheet and Python but no sockets, for `pysheets replay`.

pub mod control;
pub mod history;
pub mod interrupt;
pub mod journal;
pub mod kernel_info;
pub mod labels;
pub mod launch;
pub mod live_sheet;
pub mod replay;
pub mod request_output;
pub mod sheet_view;
pub mod shell;
pub mod shutdown;
pub mod wire_sink;
