//! File descriptors for a replay: fd 1 must carry the result and nothing else, yet cells
//! print there from Python, from C code and from subprocesses they start. So the result gets
//! a duplicate of fd 1 taken at start (closed on exec, so subprocesses do not inherit it),
//! and fd 1 itself is pointed at stderr before any cell runs. Stdin has been read to its end
//! by then; it becomes /dev/null, so nothing a cell starts waits on it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The result's own handle on what was fd 1; fd 1 now writes to stderr (or, when the
/// process has no stderr, to /dev/null).
pub fn keep_stdout_for_result() -> io::Result<File> {
    let saved = check(unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) })?;
    let saved = unsafe { File::from_raw_fd(saved) };
    let has_stderr = unsafe { libc::fcntl(2, libc::F_GETFD) } >= 0;
    if has_stderr {
        check(unsafe { libc::dup2(2, 1) })?;
    } else {
        let null = File::options().write(true).open("/dev/null")?;
        check(unsafe { libc::dup2(null.as_raw_fd(), 1) })?;
    }
    Ok(saved)
}

/// Points fd 0 at /dev/null: what a cell reads from stdin is then an immediate end of file.
pub fn stdin_from_null() -> io::Result<()> {
    let null = File::open("/dev/null")?;
    check(unsafe { libc::dup2(null.as_raw_fd(), 0) })?;
    Ok(())
}
