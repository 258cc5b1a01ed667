//! The five sockets (libzmq, through the `zmq` crate) and the threads that serve them.
//!
//! libzmq sockets may be used by one thread at a time, so one thread, "sockets", owns shell,
//! control, stdin and IOPub: it polls the three ROUTERs for requests, IOPub (an XPUB) for
//! subscriptions to discard, and an eventfd that says "something to send". Everything any thread
//! sends goes through one queue to it, so messages leave in the order they were queued *across*
//! sockets too: a reply queued after its outputs is handed to libzmq after them. IOPub keeps
//! under jupyter_server's message rate limit ([`iopub_pace`]); what is queued behind held IOPub
//! messages waits with them, except control (an interrupt is answered at once). Shell requests go, in order, to one consumer (the Python
//! thread) through a std channel; control requests to a handler on the tokio runtime, so they
//! are served while a cell runs. The heartbeat is a ROUTER echoed by `zmq_proxy` on a thread
//! of its own, so that nothing the kernel does delays it.
//!
//! Why libzmq and not the pure-Rust `zeromq` crate: the latter (0.7, the newest) lets any
//! local process abort the kernel with one frame header announcing a huge length; libzmq
//! refuses frames over `ZMQ_MAXMSGSIZE` by dropping that connection (see [`MAX_FRAME_BYTES`]).

use super::connection::ConnectionInfo;
use super::iopub_pace::{self, Pace};
use super::signing::Signer;
use super::wire::Message;
use bytes::Bytes;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The largest frame a peer may send on shell, control, stdin or IOPub (256 MiB): room for big
/// cells and widget buffers; a peer announcing more is disconnected by libzmq before anything
/// is allocated. README's "Limits" says the same.
pub const MAX_FRAME_BYTES: i64 = 256 << 20;

/// The heartbeat only echoes short pings.
pub const MAX_PING_BYTES: i64 = 64 << 10;

/// How many IOPub messages libzmq queues per subscriber before it drops that subscriber's
/// further messages (XPUB, like PUB, never blocks the publisher). ipykernel keeps libzmq's default, 1000;
/// a re-run of a large sheet publishes one message per cell in a burst, so this is higher. It
/// bounds what a subscriber that never reads costs: this many messages, not the whole session.
pub const IOPUB_SNDHWM: i32 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot bind the {name} socket to {endpoint}: {source} (is the port already in use?)")]
    Bind {
        name: &'static str,
        endpoint: String,
        source: zmq::Error,
    },
    #[error("cannot set up the {name} socket: {source}")]
    Setup {
        name: &'static str,
        source: std::io::Error,
    },
}

pub type SharedSigner = Arc<Mutex<Signer>>;

/// What the IOPub socket is asked to do.
pub enum Publish {
    Message(Message),
    Batch(Vec<Message>),
    /// Answered once everything queued before it (on any socket) has been handed to libzmq.
    Flush(oneshot::Sender<()>),
}

/// What waits in the IOPub pace ([`iopub_pace`]): IOPub messages and, so that nothing
/// overtakes them, the shell and stdin messages queued after them and flushes to answer.
/// Control is never held: an interrupt's reply must not wait for outputs.
enum Paced {
    Iopub(Message),
    Shell(Message),
    Stdin(Message),
    Flush(oneshot::Sender<()>),
}

impl Paced {
    /// Whether jupyter_server counts it: IOPub topics end with the message type.
    fn counted(&self) -> bool {
        let Paced::Iopub(msg) = self else {
            return false;
        };
        let topic = msg.identities.first().map_or(&b""[..], |t| &t[..]);
        let msg_type = topic.rsplit(|&b| b == b'.').next().unwrap_or_default();
        iopub_pace::counted(std::str::from_utf8(msg_type).unwrap_or(""))
    }

    /// An idle status: jupyter_server starts counting again after it.
    fn is_idle(&self) -> bool {
        matches!(self, Paced::Iopub(msg) if msg.content["execution_state"] == "idle")
    }
}

/// One item for the sockets thread.
enum Outgoing {
    Iopub(Publish),
    Shell(Message),
    Control(Message),
    Stdin(Message),
}

/// Wakes the sockets thread: an eventfd it polls beside the sockets. `armed` saves a write
/// per message while the thread has not yet taken the previous wake-up.
struct Waker {
    fd: OwnedFd,
    armed: AtomicBool,
}

impl Waker {
    fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd has no memory preconditions; its result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Waker {
            // SAFETY: a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            armed: AtomicBool::new(false),
        })
    }

    fn wake(&self) {
        if !self.armed.swap(true, Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64. It cannot fail short of the counter
            // overflowing, which one pending wake-up at a time rules out.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Called by the sockets thread before it drains the queue.
    fn take(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (nothing pending) is fine.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        self.armed.store(false, Ordering::SeqCst);
    }
}

/// A handle that lets any thread send on one of the kernel's sockets.
pub struct Sender<T> {
    queue: std_mpsc::Sender<Outgoing>,
    waker: Arc<Waker>,
    wrap: fn(T) -> Outgoing,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            queue: self.queue.clone(),
            waker: self.waker.clone(),
            wrap: self.wrap,
        }
    }
}

/// The sockets thread is gone: the kernel is shutting down.
#[derive(Debug)]
pub struct Closed;

impl<T> Sender<T> {
    pub fn send(&self, item: T) -> Result<(), Closed> {
        self.queue.send((self.wrap)(item)).map_err(|_| Closed)?;
        self.waker.wake();
        Ok(())
    }
}

/// Handles that let any thread send on the kernel's sockets.
#[derive(Clone)]
pub struct Outbox {
    pub iopub: Sender<Publish>,
    pub shell: Sender<Message>,
    pub control: Sender<Message>,
    pub stdin: Sender<Message>,
}

impl Outbox {
    pub fn publish(&self, msg: Message) {
        // A closed queue means the kernel is shutting down: nothing left to tell.
        let _ = self.iopub.send(Publish::Message(msg));
    }

    /// Waits (blocking) until everything queued so far has been handed to libzmq.
    pub fn flush_blocking(&self) {
        let (tx, rx) = oneshot::channel();
        if self.iopub.send(Publish::Flush(tx)).is_ok() {
            let _ = rx.blocking_recv();
        }
    }

    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.iopub.send(Publish::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Bound sockets, not yet served.
pub struct Bound {
    // Kept so the context outlives the sockets for as long as they are served.
    _context: zmq::Context,
    shell: zmq::Socket,
    control: zmq::Socket,
    stdin: zmq::Socket,
    iopub: zmq::Socket,
}

fn bind(
    context: &zmq::Context,
    kind: zmq::SocketType,
    name: &'static str,
    endpoint: String,
    max_frame: i64,
) -> Result<zmq::Socket, SocketError> {
    let fail = |source| SocketError::Bind {
        name,
        endpoint: endpoint.clone(),
        source,
    };
    let socket = context.socket(kind).map_err(fail)?;
    socket.set_maxmsgsize(max_frame).map_err(fail)?;
    // The process exits without closing sockets; nothing should wait for peers.
    socket.set_linger(0).map_err(fail)?;
    if kind == zmq::XPUB {
        socket.set_sndhwm(IOPUB_SNDHWM).map_err(fail)?;
    }
    socket.bind(&endpoint).map_err(fail)?;
    Ok(socket)
}

pub fn bind_all(info: &ConnectionInfo) -> Result<Bound, SocketError> {
    let context = zmq::Context::new();
    let on = |kind, name, port| bind(&context, kind, name, info.endpoint(port), MAX_FRAME_BYTES);
    Ok(Bound {
        shell: on(zmq::ROUTER, "shell", info.shell_port)?,
        control: on(zmq::ROUTER, "control", info.control_port)?,
        stdin: on(zmq::ROUTER, "stdin", info.stdin_port)?,
        iopub: on(zmq::XPUB, "iopub", info.iopub_port)?,
        _context: context,
    })
}

/// Starts the heartbeat on a thread of its own; returns once it is bound.
/// A ROUTER proxied onto itself sends every ping back to the peer it came from, unchanged
/// (as ipykernel's heartbeat does), without a line of ours between receive and send.
pub fn start_heartbeat(info: &ConnectionInfo) -> Result<(), SocketError> {
    let context = zmq::Context::new();
    let socket = bind(
        &context,
        zmq::ROUTER,
        "heartbeat",
        info.endpoint(info.hb_port),
        MAX_PING_BYTES,
    )?;
    std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            let _context = context;
            // Returns only when the context is terminated, which never happens.
            if let Err(e) = zmq::proxy(&socket, &socket) {
                tracing::error!("heartbeat stopped: {e}");
            }
        })
        .map_err(|source| SocketError::Setup {
            name: "heartbeat",
            source,
        })?;
    Ok(())
}

/// Where incoming requests go.
pub struct Inbox {
    /// Shell requests, in arrival order, for the execution thread.
    pub shell: std_mpsc::Sender<Message>,
    /// input_reply messages, for the execution thread waiting in `input()`.
    pub stdin: std_mpsc::Sender<Message>,
    /// Control requests, for a handler on the runtime.
    pub control: mpsc::UnboundedSender<Message>,
}

/// Starts the sockets thread.
pub fn serve(bound: Bound, signer: SharedSigner, inbox: Inbox) -> Result<Outbox, SocketError> {
    let setup = |source| SocketError::Setup {
        name: "sockets",
        source,
    };
    let waker = Arc::new(Waker::new().map_err(setup)?);
    let (tx, rx) = std_mpsc::channel();
    let reply = |wrap: fn(Message) -> Outgoing| Sender {
        queue: tx.clone(),
        waker: waker.clone(),
        wrap,
    };
    let outbox = Outbox {
        iopub: Sender {
            queue: tx.clone(),
            waker: waker.clone(),
            wrap: Outgoing::Iopub,
        },
        shell: reply(Outgoing::Shell),
        control: reply(Outgoing::Control),
        stdin: reply(Outgoing::Stdin),
    };
    let thread_waker = waker.clone();
    std::thread::Builder::new()
        .name("sockets".into())
        .spawn(move || run(bound, signer, inbox, rx, &thread_waker))
        .map_err(setup)?;
    Ok(outbox)
}

/// How many messages one socket may deliver before the others get a turn: a peer flooding
/// one socket must not starve the rest, nor the queue of outgoing messages.
const TURN: usize = 64;

fn run(
    bound: Bound,
    signer: SharedSigner,
    inbox: Inbox,
    outgoing: std_mpsc::Receiver<Outgoing>,
    waker: &Waker,
) {
    let routers = [
        (&bound.shell, "shell"),
        (&bound.control, "control"),
        (&bound.stdin, "stdin"),
    ];
    // Outgoing items left in the queue after a turn: poll without waiting, then send more.
    let mut backlog = false;
    let mut pace = Pace::from_env();
    // How long until the pace lets the next held message go, if one waits.
    let mut paced: Option<std::time::Duration> = None;
    loop {
        let mut items = [
            bound.shell.as_poll_item(zmq::POLLIN),
            bound.control.as_poll_item(zmq::POLLIN),
            bound.stdin.as_poll_item(zmq::POLLIN),
            zmq::PollItem::from_fd(waker.fd.as_raw_fd(), zmq::POLLIN),
            bound.iopub.as_poll_item(zmq::POLLIN),
        ];
        let timeout = match (backlog, paced) {
            (true, _) => 0,
            (false, Some(wait)) => wait.as_millis() as i64 + 1,
            (false, None) => -1,
        };
        if let Err(e) = zmq::poll(&mut items, timeout) {
            if e != zmq::Error::EINTR {
                tracing::error!("sockets: poll failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            continue;
        }
        let readable: Vec<bool> = items.iter().map(zmq::PollItem::is_readable).collect();
        if readable[3] || backlog {
            waker.take();
            backlog = true;
            // Bounded, so that a cell flooding output cannot keep an interrupt on control
            // from being read.
            for _ in 0..TURN * 16 {
                match outgoing.try_recv() {
                    Ok(item) => queue(&bound, item, &signer, &mut pace),
                    Err(std_mpsc::TryRecvError::Empty) => {
                        backlog = false;
                        break;
                    }
                    // Every Outbox is gone: nobody will send or consume anything any more.
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            }
        }
        if pace.is_waiting() {
            let now = std::time::Instant::now();
            paced = pace.send_due(now, Paced::counted, Paced::is_idle, |item| {
                send_paced(&bound, item, &signer)
            });
        } else {
            paced = None;
        }
        if readable[4] {
            // Subscriptions, read only to be discarded. A PUB socket cannot be read, and libzmq
            // kept what it was sent (measured: about 11 KB per peer that sent junk to IOPub).
            for _ in 0..TURN {
                if receive(&bound.iopub).is_err() {
                    break;
                }
            }
        }
        for (i, (socket, name)) in routers.iter().enumerate() {
            if !readable[i] {
                continue;
            }
            for _ in 0..TURN {
                match receive(socket) {
                    Ok(frames) => deliver(frames, name, &signer, &inbox),
                    Err(zmq::Error::EAGAIN) => break,
                    Err(e) => {
                        tracing::warn!("{name}: receive failed: {e}");
                        break;
                    }
                }
            }
        }
    }
}

fn receive(socket: &zmq::Socket) -> zmq::Result<Vec<Bytes>> {
    let mut frames = Vec::new();
    loop {
        let part = socket.recv_msg(zmq::DONTWAIT)?;
        let more = part.get_more();
        frames.push(Bytes::copy_from_slice(&part));
        if !more {
            return Ok(frames);
        }
    }
}

fn deliver(frames: Vec<Bytes>, name: &str, signer: &SharedSigner, inbox: &Inbox) {
    let msg = {
        let mut signer = signer.lock().unwrap_or_else(|p| p.into_inner());
        match Message::from_frames(frames, &mut signer) {
            Ok(msg) => msg,
            Err(e) => {
                log_drop(name, &e);
                return;
            }
        }
    };
    let delivered = match name {
        "shell" => inbox.shell.send(msg).is_ok(),
        "control" => inbox.control.send(msg).is_ok(),
        _ if msg.invalid.is_some() => {
            // An input_reply nobody can read: input() keeps waiting for a readable one.
            tracing::warn!(
                "stdin: dropped a message: {}",
                msg.invalid.unwrap_or_default()
            );
            true
        }
        _ => inbox.stdin.send(msg).is_ok(),
    };
    if !delivered {
        tracing::warn!("{name}: nobody serves this socket any more");
    }
}

/// Logs a dropped message: the first ten, then one in a thousand. Anyone who can connect can
/// send junk without the key, and must not be able to fill the log's disk with warnings.
fn log_drop(name: &str, error: &dyn std::fmt::Display) {
    static DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = DROPPED.fetch_add(1, Ordering::Relaxed);
    if n < 10 || n.is_multiple_of(1000) {
        tracing::warn!(
            "{name}: dropped a message: {error} ({} dropped so far)",
            n + 1
        );
    }
}

/// Control goes now; the rest joins the IOPub pace, in order.
fn queue(bound: &Bound, item: Outgoing, signer: &SharedSigner, pace: &mut Pace<Paced>) {
    match item {
        Outgoing::Control(msg) => send_one(&bound.control, "control", &msg, signer),
        Outgoing::Iopub(Publish::Message(msg)) => pace.push(Paced::Iopub(msg)),
        Outgoing::Iopub(Publish::Batch(batch)) => {
            batch.into_iter().for_each(|m| pace.push(Paced::Iopub(m)))
        }
        Outgoing::Iopub(Publish::Flush(done)) => pace.push(Paced::Flush(done)),
        Outgoing::Shell(msg) => pace.push(Paced::Shell(msg)),
        Outgoing::Stdin(msg) => pace.push(Paced::Stdin(msg)),
    }
}

fn send_paced(bound: &Bound, item: Paced, signer: &SharedSigner) {
    match item {
        Paced::Iopub(msg) => send_one(&bound.iopub, "iopub", &msg, signer),
        Paced::Shell(msg) => send_one(&bound.shell, "shell", &msg, signer),
        Paced::Stdin(msg) => send_one(&bound.stdin, "stdin", &msg, signer),
        Paced::Flush(done) => {
            let _ = done.send(());
        }
    }
}

fn send_one(socket: &zmq::Socket, name: &str, msg: &Message, signer: &SharedSigner) {
    let frames = msg.to_frames(&signer.lock().unwrap_or_else(|p| p.into_inner()));
    // ROUTER drops what it cannot route and XPUB what a slow subscriber has no room for;
    // neither blocks, so a peer can never stall this thread.
    let sent = socket.send_multipart(frames.iter().map(|f| &f[..]), zmq::DONTWAIT);
    if let Err(e) = sent {
        tracing::warn!("{name}: send failed: {e}");
    }
}
