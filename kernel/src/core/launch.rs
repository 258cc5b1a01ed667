//! Starting a kernel from a connection file: sockets, then Python, then serving.
//!
//! Threads: this thread (Python's main thread, which called the extension module) serves
//! shell requests and runs every cell; the "sockets" thread owns shell, control, stdin and IOPub; one tokio worker
//! answers control; heartbeat, the stream flusher and the fd readers have threads of their
//! own. SIGINT is blocked everywhere but here, so an interrupt in `signal` mode lands on the
//! thread that runs the cell.

use super::{control, history, interrupt, shell::Shell, wire_sink::WireSink};
use crate::protocol::connection::ConnectionInfo;
use crate::protocol::signing::Signer;
use crate::protocol::sockets::{self, Inbox};
use crate::protocol::wire::Identity;
use crate::python::{bridge, capture, PythonRuntime};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("pysheets kernel: {message}");
    1
}

/// Serves the kernel of `connection_file` until it is shut down; the exit status.
pub fn run(connection_file: &Path) -> u8 {
    let info = match ConnectionInfo::from_file(connection_file) {
        Ok(info) => info,
        Err(e) => return fail(e),
    };
    init_logging();
    interrupt::set_sigint_blocked(true);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("control")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the control runtime: {e}")),
    };
    let bound = match sockets::bind_all(&info) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    if let Err(e) = sockets::start_heartbeat(&info) {
        return fail(e);
    }

    let identity = Identity::new();
    let signer = Arc::new(Mutex::new(Signer::new(&info.key)));
    let (shell_tx, shell_rx) = std::sync::mpsc::channel();
    let (stdin_tx, stdin_rx) = std::sync::mpsc::channel();
    let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel();
    let inbox = Inbox {
        shell: shell_tx,
        stdin: stdin_tx,
        control: control_tx,
    };
    let outbox = match sockets::serve(bound, signer, inbox) {
        Ok(outbox) => outbox,
        Err(e) => return fail(e),
    };
    let sink = Arc::new(WireSink::new(identity.clone(), outbox.clone(), stdin_rx));
    bridge::install(sink.clone());

    interrupt::set_sigint_blocked(false);
    interrupt::register_python_thread();
    let python_started = std::time::Instant::now();
    let py = match PythonRuntime::start() {
        Ok(py) => py,
        Err(e) => return fail(e),
    };
    tracing::info!(
        "Python {} at {} (prefix {}), ready in {:?}",
        py.info.version,
        py.info.executable,
        py.info.prefix,
        python_started.elapsed()
    );
    runtime.spawn(control::serve(
        control_rx,
        identity.clone(),
        outbox.clone(),
        py.info.version.clone(),
    ));

    // From here on fd 1 and 2 are pipes into the cell's output; the log keeps the real stderr.
    let capture = {
        let _mask = SigintBlocked::new();
        match capture::Capture::start() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("output of C code and subprocesses will not be captured: {e}");
                None
            }
        }
    };
    exit_with_parent();
    let history = history::History::open(history::default_path().as_deref());
    Shell::new(identity, outbox, py, history, capture, sink).run(shell_rx);
    0
}

/// Ends the kernel when the process that started it (a frontend, `jupyter console`) dies
/// without shutting it down, as ipykernel's parent poller does: an orphaned kernel would hold
/// its ports and memory forever.
/// Watches `JPY_PARENT_PID`, which jupyter_client sets, rather than our parent process: a
/// launcher may legitimately be a short-lived wrapper.
fn exit_with_parent() {
    let Some(parent) = std::env::var("JPY_PARENT_PID")
        .ok()
        .and_then(|p| p.parse::<libc::pid_t>().ok())
        .filter(|&p| p > 1)
    else {
        return;
    };
    let _mask = SigintBlocked::new();
    let spawned = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let alive = unsafe { libc::kill(parent, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            if !alive {
                tracing::warn!("the process that started this kernel ({parent}) is gone: exiting");
                std::process::exit(0);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch the parent process: {e}");
    }
}

/// Blocks SIGINT for threads spawned while it lives.
struct SigintBlocked;

impl SigintBlocked {
    fn new() -> Self {
        interrupt::set_sigint_blocked(true);
        SigintBlocked
    }
}

impl Drop for SigintBlocked {
    fn drop(&mut self) {
        interrupt::set_sigint_blocked(false);
    }
}

/// The kernel's own log goes to the real stderr (a duplicate taken before fd 2 is captured),
/// filtered by `PYSHEETS_LOG` (default: warnings).
pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PYSHEETS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let Ok(stderr) = capture::saved_stderr() else {
        return;
    };
    let stderr = Arc::new(stderr);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || stderr.clone())
        .with_ansi(false)
        .try_init();
}
