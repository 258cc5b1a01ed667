//! Interrupts land on the Python thread: in `signal` mode the client signals the process group,
//! in `message` mode control asks us to signal that thread ourselves.

use std::sync::OnceLock;

static PYTHON_THREAD: OnceLock<libc::pthread_t> = OnceLock::new();

/// Records the calling thread as the one that runs Python.
pub fn register_python_thread() {
    let _ = PYTHON_THREAD.set(unsafe { libc::pthread_self() });
}

/// Delivers SIGINT to the Python thread; Python turns it into KeyboardInterrupt.
pub fn interrupt_python() -> bool {
    match PYTHON_THREAD.get() {
        Some(thread) => unsafe { libc::pthread_kill(*thread, libc::SIGINT) == 0 },
        None => false,
    }
}

/// Blocks or unblocks SIGINT on the calling thread; threads inherit the mask they start with,
/// so every thread but Python's is started with SIGINT blocked.
pub fn set_sigint_blocked(blocked: bool) {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        let how = if blocked {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}
