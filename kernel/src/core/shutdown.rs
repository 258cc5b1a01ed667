//! shutdown_request, on shell or control: one answer for both channels.

use crate::protocol::sockets::{Outbox, Sender};
use crate::protocol::wire::{Identity, Message};
use serde_json::json;
use std::time::Duration;

/// How long the socket writers get to hand the last messages over before the process ends.
const GRACE: Duration = Duration::from_millis(50);

/// Answers `msg`: `shutdown_reply` on the channel it came on (`reply_to`), the same content
/// on IOPub (as ipykernel does, for the other clients), then `idle`.
pub fn answer(identity: &Identity, outbox: &Outbox, reply_to: &Sender<Message>, msg: &Message) {
    let restart = msg.bool_field("restart", false);
    let content = json!({"status": "ok", "restart": restart});
    let _ = reply_to.send(identity.reply(msg, "shutdown_reply", content.clone()));
    outbox.publish(identity.broadcast(Some(&msg.header), "shutdown_reply", content));
    outbox.publish(identity.broadcast(
        Some(&msg.header),
        "status",
        json!({"execution_state": "idle"}),
    ));
}

/// Ends the process once IOPub has sent what is queued (from a plain thread: the shell).
pub fn exit_after_flush(outbox: &Outbox) -> ! {
    outbox.flush_blocking();
    std::thread::sleep(GRACE);
    std::process::exit(0)
}

/// [`exit_after_flush`] from a task of the socket runtime (control).
pub async fn exit_after_flush_async(outbox: &Outbox) -> ! {
    outbox.flush().await;
    tokio::time::sleep(GRACE).await;
    std::process::exit(0)
}
