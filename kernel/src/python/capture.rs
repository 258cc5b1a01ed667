//! Output written below Python (C extensions, `os.system`, subprocesses) goes to fd 1 and 2:
//! pipes behind them feed the same coalesced streams as `print`.
//!
//! To flush before a reply, a marker is written into each pipe and the reader confirms when it
//! got there: everything written before it has then been handed to the streams. The marker goes
//! through a write end of our own, not fd 1 or 2: a cell may point those elsewhere
//! (`os.dup2(devnull, 1)`), and a marker written there would never arrive.

use super::bridge;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const MARKER: &[u8] = b"\x00\x01pysheets-sync\x01\x00";

struct Seen {
    count: Mutex<u64>,
    changed: Condvar,
}

pub struct Capture {
    /// Per stream: our own write end of its pipe, and what its reader has seen.
    pipes: Vec<(RawFd, Arc<Seen>)>,
}

/// Duplicates the process's real stderr (for the kernel's own log) before it is captured.
pub fn saved_stderr() -> io::Result<File> {
    let fd = unsafe { libc::dup(2) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { File::from_raw_fd(fd) })
}

impl Capture {
    pub fn start() -> io::Result<Capture> {
        let mut pipes = Vec::new();
        for (fd, name) in [(1, "stdout"), (2, "stderr")] {
            let mut ends = [0 as RawFd; 2];
            if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let [read_end, write_end] = ends;
            if unsafe { libc::dup2(write_end, fd) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // Kept open for markers; children must not inherit it.
            for end in [read_end, write_end] {
                unsafe { libc::fcntl(end, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            let seen = Arc::new(Seen {
                count: Mutex::new(0),
                changed: Condvar::new(),
            });
            let reader = unsafe { File::from_raw_fd(read_end) };
            let reader_seen = seen.clone();
            std::thread::Builder::new()
                .name(format!("capture-{name}"))
                .spawn(move || pump(reader, name, &reader_seen))?;
            pipes.push((write_end, seen));
        }
        Ok(Capture { pipes })
    }

    /// Returns once everything written to fd 1 and 2 so far has reached the streams.
    pub fn sync(&self) {
        unsafe { libc::fflush(std::ptr::null_mut()) };
        for (fd, seen) in &self.pipes {
            let before = *seen.count.lock().unwrap_or_else(|p| p.into_inner());
            let written = unsafe { libc::write(*fd, MARKER.as_ptr().cast(), MARKER.len()) };
            if written != MARKER.len() as isize {
                continue;
            }
            let guard = seen.count.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a wedged reader must not hang the kernel.
            let _ = seen
                .changed
                .wait_timeout_while(guard, Duration::from_secs(2), |n| *n == before);
        }
    }
}

fn pump(mut reader: File, name: &'static str, seen: &Seen) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        pending.extend_from_slice(&chunk[..n]);
        while let Some(at) = find(&pending, MARKER) {
            emit(name, &pending[..at]);
            pending.drain(..at + MARKER.len());
            let mut count = seen.count.lock().unwrap_or_else(|p| p.into_inner());
            *count += 1;
            seen.changed.notify_all();
        }
        let keep = held_back(&pending);
        let ready = pending.len() - keep;
        emit(name, &pending[..ready]);
        pending.drain(..ready);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How many trailing bytes to keep for the next read: a marker's start, or a split UTF-8 char.
fn held_back(bytes: &[u8]) -> usize {
    for start in bytes.len().saturating_sub(MARKER.len() - 1)..bytes.len() {
        if MARKER.starts_with(&bytes[start..]) {
            return bytes.len() - start;
        }
    }
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        _ => 0,
    }
}

fn emit(name: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(b) = bridge::get() {
        let handed = b.write_stream(name, &String::from_utf8_lossy(bytes));
        if handed > 0 {
            // The pipe fills meanwhile, so a process writing to fd 1 waits too.
            b.wait_sent(handed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_a_partial_marker_and_a_split_character() {
        assert_eq!(held_back(b"hello"), 0);
        assert_eq!(held_back(b"hello\x00\x01pys"), 5);
        let euro = "€".as_bytes();
        let mut split = b"price ".to_vec();
        split.extend_from_slice(&euro[..2]);
        assert_eq!(held_back(&split), 2);
    }

    #[test]
    fn finds_the_marker() {
        let mut data = b"abc".to_vec();
        data.extend_from_slice(MARKER);
        data.extend_from_slice(b"def");
        assert_eq!(find(&data, MARKER), Some(3));
    }
}
