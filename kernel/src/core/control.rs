//! Control requests, answered on the socket runtime so they get through while a cell runs.

use super::kernel_info;
use crate::protocol::sockets::Outbox;
use crate::protocol::wire::{Identity, Message};
use serde_json::json;
use tokio::sync::mpsc;

pub async fn serve(
    mut requests: mpsc::UnboundedReceiver<Message>,
    identity: Identity,
    outbox: Outbox,
    python_version: String,
) {
    while let Some(msg) = requests.recv().await {
        let status = |state: &str| {
            outbox.publish(identity.broadcast(
                Some(&msg.header),
                "status",
                json!({"execution_state": state}),
            ))
        };
        let reply = |msg_type: &str, content| {
            let _ = outbox.control.send(identity.reply(&msg, msg_type, content));
        };
        status("busy");
        match msg.msg_type() {
            _ if msg.invalid.is_some() => {
                if let Some(reply) = identity.error_reply(&msg) {
                    let _ = outbox.control.send(reply);
                }
            }
            "kernel_info_request" => {
                reply("kernel_info_reply", kernel_info::content(&python_version))
            }
            "interrupt_request" => {
                let ok = super::interrupt::interrupt_python();
                reply(
                    "interrupt_reply",
                    if ok {
                        json!({"status": "ok"})
                    } else {
                        json!({"status": "error", "ename": "InterruptError",
                               "evalue": "the Python thread could not be signalled",
                               "traceback": []})
                    },
                );
            }
            "shutdown_request" => {
                super::shutdown::answer(&identity, &outbox, &outbox.control, &msg);
                super::shutdown::exit_after_flush_async(&outbox).await;
            }
            other => {
                tracing::warn!("control: unsupported message type {other:?}, ignored");
            }
        }
        status("idle");
    }
}
