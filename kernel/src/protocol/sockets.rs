//! The five sockets and the tasks that serve them.
//!
//! Shell requests go, in order, to one consumer (the Python thread) through a std channel;
//! control requests are answered here, on the tokio runtime, so they are served while a cell
//! runs. Heartbeat has a thread of its own so that a busy runtime never delays it.

use super::connection::ConnectionInfo;
use super::signing::Signer;
use super::wire::Message;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot bind the {name} socket to {endpoint}: {source} (is the port already in use?)")]
    Bind {
        name: &'static str,
        endpoint: String,
        source: zeromq::ZmqError,
    },
}

pub type SharedSigner = Arc<Mutex<Signer>>;

/// What the IOPub task is asked to do.
pub enum Publish {
    Message(Message),
    Batch(Vec<Message>),
    /// Answered once everything queued before it has been handed to the socket.
    Flush(oneshot::Sender<()>),
}

/// Handles that let any thread send on the kernel's sockets.
#[derive(Clone)]
pub struct Outbox {
    pub iopub: mpsc::UnboundedSender<Publish>,
    pub shell: mpsc::UnboundedSender<Message>,
    pub control: mpsc::UnboundedSender<Message>,
    pub stdin: mpsc::UnboundedSender<Message>,
}

impl Outbox {
    pub fn publish(&self, msg: Message) {
        // A closed channel means the kernel is shutting down: nothing left to tell.
        let _ = self.iopub.send(Publish::Message(msg));
    }

    /// Waits (blocking) until the IOPub task has sent everything queued so far.
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
    shell: RouterSocket,
    control: RouterSocket,
    stdin: RouterSocket,
    iopub: PubSocket,
}

async fn bind<S: Socket>(
    mut socket: S,
    name: &'static str,
    info: &ConnectionInfo,
    port: u16,
) -> Result<S, SocketError> {
    let endpoint = info.endpoint(port);
    socket
        .bind(&endpoint)
        .await
        .map_err(|source| SocketError::Bind {
            name,
            endpoint,
            source,
        })?;
    Ok(socket)
}

pub async fn bind_all(info: &ConnectionInfo) -> Result<Bound, SocketError> {
    Ok(Bound {
        shell: bind(RouterSocket::new(), "shell", info, info.shell_port).await?,
        control: bind(RouterSocket::new(), "control", info, info.control_port).await?,
        stdin: bind(RouterSocket::new(), "stdin", info, info.stdin_port).await?,
        iopub: bind(PubSocket::new(), "iopub", info, info.iopub_port).await?,
    })
}

/// Starts the heartbeat on a thread of its own; returns once it is bound.
pub fn start_heartbeat(info: &ConnectionInfo) -> Result<(), SocketError> {
    let endpoint = info.endpoint(info.hb_port);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("heartbeat runtime: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let mut socket = RepSocket::new();
                if let Err(source) = socket.bind(&endpoint).await {
                    let _ = ready_tx.send(Err(SocketError::Bind {
                        name: "heartbeat",
                        endpoint,
                        source,
                    }));
                    return;
                }
                let _ = ready_tx.send(Ok(()));
                // Echo the request bytes unchanged: clients compare them.
                while let Ok(ping) = socket.recv().await {
                    if socket.send(ping).await.is_err() {
                        tracing::warn!("heartbeat: could not echo");
                    }
                }
            });
        })
        .expect("spawning the heartbeat thread");
    ready_rx.recv().unwrap_or(Ok(()))
}

fn to_zmq(msg: &Message, signer: &SharedSigner) -> Option<ZmqMessage> {
    let frames = msg.to_frames(&signer.lock().unwrap_or_else(|p| p.into_inner()));
    ZmqMessage::try_from(frames).ok()
}

fn decode(frames: ZmqMessage, signer: &SharedSigner, socket: &str) -> Option<Message> {
    let frames: Vec<Bytes> = frames.into_vec();
    let mut signer = signer.lock().unwrap_or_else(|p| p.into_inner());
    match Message::from_frames(frames, &mut signer) {
        Ok(msg) => Some(msg),
        Err(e) => {
            tracing::warn!("{socket}: dropped a message: {e}");
            None
        }
    }
}

/// Where incoming requests go.
pub struct Inbox {
    /// Shell requests, in arrival order, for the execution thread.
    pub shell: std::sync::mpsc::Sender<Message>,
    /// input_reply messages, for the execution thread waiting in `input()`.
    pub stdin: std::sync::mpsc::Sender<Message>,
    /// Control requests, for a handler on the runtime.
    pub control: mpsc::UnboundedSender<Message>,
}

/// Spawns the socket tasks on the current tokio runtime.
pub fn serve(bound: Bound, signer: SharedSigner, inbox: Inbox) -> Outbox {
    let (iopub_tx, iopub_rx) = mpsc::unbounded_channel();
    let (shell_tx, shell_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();

    tokio::spawn(serve_iopub(bound.iopub, iopub_rx, signer.clone()));
    tokio::spawn(serve_router(
        bound.shell,
        "shell",
        shell_rx,
        signer.clone(),
        Forward::Std(inbox.shell),
    ));
    tokio::spawn(serve_router(
        bound.control,
        "control",
        control_rx,
        signer.clone(),
        Forward::Tokio(inbox.control),
    ));
    tokio::spawn(serve_router(
        bound.stdin,
        "stdin",
        stdin_rx,
        signer,
        Forward::Std(inbox.stdin),
    ));
    Outbox {
        iopub: iopub_tx,
        shell: shell_tx,
        control: control_tx,
        stdin: stdin_tx,
    }
}

enum Forward {
    Std(std::sync::mpsc::Sender<Message>),
    Tokio(mpsc::UnboundedSender<Message>),
}

impl Forward {
    fn send(&self, msg: Message) -> bool {
        match self {
            Forward::Std(tx) => tx.send(msg).is_ok(),
            Forward::Tokio(tx) => tx.send(msg).is_ok(),
        }
    }
}

async fn serve_router(
    socket: RouterSocket,
    name: &'static str,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    signer: SharedSigner,
    forward: Forward,
) {
    let (mut send, mut recv) = socket.split();
    let writer_signer = signer.clone();
    tokio::spawn(async move {
        while let Some(msg) = outgoing.recv().await {
            if let Some(frames) = to_zmq(&msg, &writer_signer) {
                if let Err(e) = send.send(frames).await {
                    tracing::warn!("{name}: send failed: {e}");
                }
            }
        }
    });
    loop {
        match recv.recv().await {
            Ok(frames) => {
                if let Some(msg) = decode(frames, &signer, name) {
                    if !forward.send(msg) {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!("{name}: receive failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn send_iopub(socket: &mut PubSocket, msg: &Message, signer: &SharedSigner) {
    if let Some(frames) = to_zmq(msg, signer) {
        if let Err(e) = socket.send(frames).await {
            tracing::warn!("iopub: send failed: {e}");
        }
    }
}

async fn serve_iopub(
    mut socket: PubSocket,
    mut queue: mpsc::UnboundedReceiver<Publish>,
    signer: SharedSigner,
) {
    while let Some(item) = queue.recv().await {
        match item {
            Publish::Message(msg) => send_iopub(&mut socket, &msg, &signer).await,
            Publish::Batch(batch) => {
                for msg in &batch {
                    send_iopub(&mut socket, msg, &signer).await;
                }
            }
            Publish::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
