//! The Jupyter wire protocol: connection files, signing, frames and the five sockets.
//! Nothing here knows about Python or sheets.

pub mod connection;
pub mod iopub_pace;
pub mod signing;
pub mod sockets;
pub mod wire;
