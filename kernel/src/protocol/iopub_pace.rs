//! The pace of IOPub: no more messages in any 3 s than jupyter_server passes on.
//!
//! jupyter_server (JupyterLab's and Notebook 7's server) drops IOPub messages, without telling
//! the kernel, once more than `iopub_msg_rate_limit` (1000 a second by default) arrived over
//! `rate_limit_window` (3 s), counting every message but `status`, `comm_open` and
//! `execute_input`, and passes them again only below 80% of that; the cell that ran gets
//! "IOPub message rate exceeded" on stderr. A re-run of 10,000 cells publishes 10,000
//! `update_display_data` in a second: measured, 7,001 of 10,000 notebook outputs kept their
//! old values. So messages wait here, in order, until the window has room. Like the server, the
//! count starts again after each `status: idle` (so Run All of many cells is not slowed): only
//! what one request publishes is paced.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// jupyter_server's `rate_limit_window`.
pub const WINDOW: Duration = Duration::from_secs(3);

/// Messages a second, by default: half jupyter_server's default limit. The server counts at
/// the time it reads, and a server short of CPU reads in bursts (measured at 800 a second: 11
/// of 10,000 outputs lost on this 2-core machine, the browser and the kernel beside it).
/// `PYSHEETS_IOPUB_RATE` sets another (0: no pace, for a server whose limit is off, or
/// clients that connect to the kernel directly).
pub const DEFAULT_RATE: usize = 500;

/// Whether jupyter_server counts a message of this type.
pub fn counted(msg_type: &str) -> bool {
    !matches!(msg_type, "status" | "comm_open" | "execute_input")
}

/// Items (messages, flush markers) in the order they were queued, and the send times of the
/// counted messages of the last [`WINDOW`].
pub struct Pace<T> {
    /// Counted messages allowed per window; None: no pace.
    limit: Option<usize>,
    sent: VecDeque<Instant>,
    waiting: VecDeque<T>,
}

impl<T> Pace<T> {
    /// `rate` messages a second (0: no pace).
    pub fn new(rate: usize) -> Self {
        Pace {
            limit: (rate > 0).then(|| rate * WINDOW.as_secs() as usize),
            sent: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }

    /// The rate `PYSHEETS_IOPUB_RATE` asks for, else [`DEFAULT_RATE`].
    pub fn from_env() -> Self {
        let rate = std::env::var("PYSHEETS_IOPUB_RATE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_RATE);
        Pace::new(rate)
    }

    pub fn push(&mut self, item: T) {
        self.waiting.push_back(item);
    }

    pub fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Hands `send` every item it may send now, in order (`is_counted` says which count, and
    /// `resets` after which the count starts again: an idle status); stops at the first counted
    /// one the window has no room for. Returns how long until the window has room again, when
    /// items wait.
    pub fn send_due(
        &mut self,
        now: Instant,
        is_counted: impl Fn(&T) -> bool,
        resets: impl Fn(&T) -> bool,
        mut send: impl FnMut(T),
    ) -> Option<Duration> {
        while let Some(&first) = self.sent.front() {
            if now.duration_since(first) >= WINDOW {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        while let Some(item) = self.waiting.front() {
            let counts = is_counted(item);
            if counts {
                if let Some(limit) = self.limit {
                    if self.sent.len() >= limit {
                        let oldest = *self.sent.front().expect("a full window has entries");
                        return Some(WINDOW.saturating_sub(now.duration_since(oldest)));
                    }
                    self.sent.push_back(now);
                }
            }
            let item = self.waiting.pop_front().expect("looked at it");
            if resets(&item) {
                self.sent.clear();
            }
            send(item);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pace: &mut Pace<(&'static str, u32)>, now: Instant) -> (Vec<u32>, Option<Duration>) {
        let mut out = Vec::new();
        let wait = pace.send_due(
            now,
            // "idle" plays an idle status (not counted, and the count starts again).
            |(t, _)| *t != "idle" && counted(t),
            |(t, _)| *t == "idle",
            |(_, n)| out.push(n),
        );
        (out, wait)
    }

    #[test]
    fn holds_what_the_window_has_no_room_for_in_order() {
        let t0 = Instant::now();
        let mut pace = Pace::new(1); // 3 counted messages per 3 s
        for n in 0..5 {
            pace.push(("update_display_data", n));
        }
        pace.push(("status", 99));
        let (sent, wait) = run(&mut pace, t0);
        assert_eq!(sent, [0, 1, 2]);
        assert_eq!(wait, Some(WINDOW));
        // Not yet: and the status behind them waits too (order is kept).
        let (sent, _) = run(&mut pace, t0 + Duration::from_secs(2));
        assert!(sent.is_empty());
        let (sent, wait) = run(&mut pace, t0 + WINDOW);
        assert_eq!(sent, [3, 4, 99]);
        assert_eq!(wait, None);
        assert!(!pace.is_waiting());
    }

    #[test]
    fn uncounted_messages_do_not_use_the_window() {
        let t0 = Instant::now();
        let mut pace = Pace::new(1);
        for n in 0..10 {
            pace.push(("status", n));
        }
        pace.push(("execute_input", 10));
        pace.push(("comm_open", 11));
        assert_eq!(run(&mut pace, t0).0.len(), 12);
    }

    #[test]
    fn an_idle_starts_the_count_again() {
        let t0 = Instant::now();
        let mut pace = Pace::new(1);
        for n in 0..3 {
            pace.push(("update_display_data", n));
        }
        pace.push(("idle", 3));
        for n in 4..8 {
            pace.push(("update_display_data", n));
        }
        let (sent, wait) = run(&mut pace, t0);
        assert_eq!(sent, [0, 1, 2, 3, 4, 5, 6]);
        assert!(wait.is_some());
    }

    #[test]
    fn no_pace_at_rate_zero() {
        let mut pace = Pace::new(0);
        for n in 0..10_000 {
            pace.push(("update_display_data", n));
        }
        let (sent, wait) = run(&mut pace, Instant::now());
        assert_eq!((sent.len(), wait), (10_000, None));
    }

    #[test]
    fn the_default_keeps_under_jupyter_servers_limit() {
        // 1000 a second over 3 s stops the server; 80% of it resumes it.
        const { assert!(DEFAULT_RATE * 3 <= 2400) };
        let t0 = Instant::now();
        let mut pace = Pace::new(DEFAULT_RATE);
        for n in 0..10_000 {
            pace.push(("update_display_data", n));
        }
        assert_eq!(run(&mut pace, t0).0.len(), DEFAULT_RATE * 3);
    }
}
