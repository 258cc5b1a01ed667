//! Serving shell requests, in order, on the thread that runs Python.

use super::journal::{self, Journal};
use super::live_sheet::{CellError, GridComms, LiveSheet, Report, Shown};
use super::request_output::{publish_after_python, RequestOutput};
use super::wire_sink::WireSink;
use super::{history::History, kernel_info, sheet_view, shutdown};
use crate::protocol::sockets::Outbox;
use crate::protocol::wire::{Identity, Message};
use crate::python::{bridge, capture::Capture, CellHandle, PythonRuntime};
use crate::sheet::Address;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

pub struct Shell {
    pub identity: Identity,
    pub outbox: Outbox,
    pub runtime: PythonRuntime,
    pub history: History,
    pub capture: Option<Capture>,
    /// Where Python's output goes (also the bridge's sink): told whose request is served.
    sink: Arc<WireSink>,
    sheet: LiveSheet<CellHandle>,
    grid: GridComms,
    journal: Journal,
    execution_count: i64,
    /// Requests that were queued behind a failed execute (with stop_on_error): executes among
    /// them are answered `aborted`, as ipykernel does; the rest are served.
    aborting: VecDeque<Message>,
    aborting_count: usize,
}

impl Shell {
    pub fn new(
        identity: Identity,
        outbox: Outbox,
        runtime: PythonRuntime,
        history: History,
        capture: Option<Capture>,
        sink: Arc<WireSink>,
    ) -> Self {
        Shell {
            identity,
            outbox,
            runtime,
            history,
            capture,
            sink,
            sheet: LiveSheet::default(),
            grid: GridComms::default(),
            journal: Journal::from_env(),
            execution_count: 0,
            aborting: VecDeque::new(),
            aborting_count: 0,
        }
    }

    pub fn run(mut self, requests: Receiver<Message>) {
        loop {
            let msg = match self.aborting.pop_front() {
                Some(m) => m,
                None => match requests.recv() {
                    Ok(m) => m,
                    Err(_) => return,
                },
            };
            let aborted = self.aborting_count > 0;
            self.aborting_count = self.aborting_count.saturating_sub(1);
            self.handle(&msg, &requests, aborted);
        }
    }

    fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        publish_after_python(&self.identity, &self.outbox, parent, msg_type, content);
    }

    fn reply(&self, request: &Message, msg_type: &str, content: Value) {
        let _ = self
            .outbox
            .shell
            .send(self.identity.reply(request, msg_type, content));
    }

    fn handle(&mut self, msg: &Message, requests: &Receiver<Message>, aborted: bool) {
        self.publish(msg, "status", json!({"execution_state": "busy"}));
        match msg.msg_type() {
            _ if msg.invalid.is_some() => {
                if let Some(reply) = self.identity.error_reply(msg) {
                    let _ = self.outbox.shell.send(reply);
                }
            }
            "execute_request" if aborted => self.abort(msg),
            "execute_request" => self.execute(msg, requests),
            "kernel_info_request" => self.reply(
                msg,
                "kernel_info_reply",
                kernel_info::content(&self.runtime.info.version),
            ),
            "complete_request" => {
                let code = msg.str_field("code");
                let cursor = cursor_pos(msg, code);
                self.reply(msg, "complete_reply", self.runtime.complete(code, cursor));
            }
            "inspect_request" => {
                let code = msg.str_field("code");
                let cursor = cursor_pos(msg, code);
                let detail = msg.content["detail_level"].as_i64().unwrap_or(0);
                let content = self.runtime.inspect(code, cursor, detail);
                self.reply(msg, "inspect_reply", content);
            }
            "is_complete_request" => {
                let content = self.runtime.is_complete(msg.str_field("code"));
                self.reply(msg, "is_complete_reply", content);
            }
            "history_request" => {
                let history = self.history.query(&msg.content);
                self.reply(
                    msg,
                    "history_reply",
                    json!({"status": "ok", "history": history}),
                );
            }
            "comm_info_request" => {
                let target = msg.str_field("target_name");
                let mut comms = self.runtime.comm_info(target);
                self.grid.add_info(target, &mut comms);
                self.reply(
                    msg,
                    "comm_info_reply",
                    json!({"status": "ok", "comms": comms}),
                );
            }
            "comm_open" | "comm_msg" | "comm_close" if self.grid_comm(msg) => {}
            kind @ ("comm_open" | "comm_msg" | "comm_close") => {
                self.begin_output(msg, false, false);
                let wire = json!({"header": msg.header.fields(), "content": msg.content,
                                  "metadata": msg.metadata});
                self.runtime.comm(kind, &wire, &msg.buffers);
                self.finish_output();
            }
            "shutdown_request" => {
                // What the request published through the bridge goes first.
                if let Some(b) = bridge::get() {
                    b.flush();
                }
                shutdown::answer(&self.identity, &self.outbox, &self.outbox.shell, msg);
                shutdown::exit_after_flush(&self.outbox);
            }
            other => tracing::warn!("shell: unknown message type {other:?}, ignored"),
        }
        self.publish(msg, "status", json!({"execution_state": "idle"}));
    }

    /// Everything Python publishes from now on belongs to `request`; a `silent` one publishes
    /// no output.
    fn begin_output(&self, request: &Message, silent: bool, allow_stdin: bool) {
        if let Some(b) = bridge::get() {
            b.begin(silent);
        }
        self.sink.begin(request, allow_stdin);
    }

    /// Every byte written so far (Python, C, subprocesses) is published, before the reply.
    fn finish_output(&self) {
        if let Some(c) = &self.capture {
            c.sync();
        }
        if let Some(b) = bridge::get() {
            b.end();
        }
        self.sink.end();
    }

    fn abort(&self, msg: &Message) {
        self.reply(
            msg,
            "execute_reply",
            json!({"status": "aborted", "execution_count": self.execution_count,
                   "user_expressions": {}, "payload": []}),
        );
    }

    fn execute(&mut self, msg: &Message, requests: &Receiver<Message>) {
        let code = msg.str_field("code");
        let silent = msg.bool_field("silent", false);
        let store_history = !silent && msg.bool_field("store_history", true);
        let stop_on_error = msg.bool_field("stop_on_error", true);
        if store_history {
            self.execution_count += 1;
        }
        let count = self.execution_count;
        if !silent {
            self.publish(
                msg,
                "execute_input",
                json!({"code": code, "execution_count": count}),
            );
        }
        self.begin_output(msg, silent, msg.bool_field("allow_stdin", true));
        self.runtime.drain_signals();
        let user_expressions = msg
            .content
            .get("user_expressions")
            .cloned()
            .unwrap_or(json!({}));
        let (mut outcome, metadata) = if silent {
            // Tools' and frontends' own code: it runs in the namespace but is not a cell.
            let request = json!({
                "code": code,
                "execution_count": count,
                "silent": silent,
                "store_history": store_history,
                "user_expressions": user_expressions,
            });
            (self.runtime.execute(&request), None)
        } else {
            let (mut outcome, metadata) = self.execute_cell(msg, code, count);
            if user_expressions.as_object().is_some_and(|m| !m.is_empty()) {
                // As before calls were typed: a failure reads as the error's JSON.
                outcome["user_expressions"] = self
                    .runtime
                    .user_expressions(&user_expressions)
                    .unwrap_or_else(|e| {
                        let e = e.exception();
                        json!({"status": "error", "ename": e.ename, "evalue": e.evalue,
                               "traceback": e.traceback})
                    });
            }
            (outcome, Some(metadata))
        };
        self.finish_output();
        let mut reply = outcome
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let output = reply.remove("result_text");
        if store_history {
            self.history
                .store(count, code, output.as_ref().and_then(Value::as_str));
        }
        let failed = reply.get("status").and_then(Value::as_str) != Some("ok");
        let mut content = Value::Object(reply);
        content["execution_count"] = json!(count);
        if !content["payload"].is_array() {
            content["payload"] = json!([]);
        }
        if content.get("user_expressions").is_none() {
            content["user_expressions"] = json!({});
        }
        if failed {
            content["status"] = json!("error");
        }
        let mut reply = self.identity.reply(msg, "execute_reply", content);
        if let Some(metadata) = metadata {
            reply.metadata = metadata;
        }
        let _ = self.outbox.shell.send(reply);
        if failed && stop_on_error {
            // Only what was already queued when the error was answered: a request sent after
            // the client saw the error is a new decision, not part of the failed batch.
            while let Ok(next) = requests.try_recv() {
                self.aborting.push_back(next);
            }
            self.aborting_count = self.aborting.len();
        }
    }
}

impl Shell {
    /// A non-silent execute: the code is a cell of the sheet (or a `%sheet` command). Returns
    /// the reply's status fields and its metadata.
    fn execute_cell(&mut self, msg: &Message, code: &str, count: i64) -> (Value, Value) {
        let comms = self.grid.ids();
        // The grid hears of a re-run before the notebook's outputs do (see hold_updates).
        if !comms.is_empty() {
            self.sink.hold_updates();
        }
        let out = RequestOutput::new(
            bridge::get(),
            self.identity.clone(),
            self.outbox.clone(),
            msg,
            comms,
        );
        let mut report = Report::default();
        let time = journal::now();
        let mode_before = self.sheet.mode;
        // Opened before the cell runs, so `sheet.history(…)` in the first cell sees it.
        self.open_journal();
        if let Some(ids) = msg.metadata["deletedCells"].as_array() {
            let ids: Vec<String> = ids
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            self.sheet
                .delete_ids(&self.runtime, &out, &ids, &mut report);
        }
        let result = if sheet_view::is_verify(code) {
            // The journal's chain is checked by the code that reads it (`pysheets_kernel.audit`).
            match self.runtime.audit_verify() {
                Ok(data) => {
                    Shown::of_request(&msg.metadata).publish(&out, data, count);
                    Ok(())
                }
                Err(e) => Err(CellError::new("JournalError", e.to_string())),
            }
        } else if sheet_view::is_command(code) {
            match sheet_view::command(
                &mut self.sheet,
                &self.runtime,
                &out,
                code,
                count,
                &mut report,
            ) {
                Ok(data) => {
                    // Like a cell's value: display data in frontends with cells.
                    Shown::of_request(&msg.metadata).publish(&out, data, count);
                    Ok(())
                }
                Err(message) => Err(CellError::new("SheetCommandError", message)),
            }
        } else {
            self.sheet
                .execute(&self.runtime, &out, code, &msg.metadata, count, &mut report)
        };
        let mut outcome = match &report.own {
            Some(own) => json!({
                "status": "ok",
                "payload": own.payload,
                "result_text": own.result_text,
            }),
            None => json!({"status": "ok"}),
        };
        let own_error = result
            .as_ref()
            .err()
            .map(|e| format!("{}: {}", e.ename, e.evalue));
        let request = journal::Request {
            time: &time,
            code: (!sheet_view::is_command(code)).then_some(code),
            command: sheet_view::is_command(code).then_some(code.trim()),
            error: own_error,
            mode_before,
        };
        self.journal_request(msg, request, &report);
        if let Err(mut error) = result {
            error.publish(&out);
            outcome["status"] = json!("error");
            outcome["ename"] = json!(error.ename);
            outcome["evalue"] = json!(error.evalue);
            outcome["traceback"] = json!(error.traceback);
        }
        self.grid.update(&self.sheet, &report, |content| {
            self.publish(msg, "comm_msg", content)
        });
        self.sink.release_updates();
        let strings = |list: &[Address]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let metadata = json!({"pysheets": {
            "address": report.address.map(|a| a.to_string()),
            "reran": strings(&report.reran),
            "stale": strings(&report.stale),
            "errors": self.sheet.errors(),
            // Which definition the cell reads of each name several cells define.
            "definers": report.address.and_then(|a| self.sheet.uses(a)).unwrap_or(json!({})),
            // What an address-shaped name (`R2`) meant: the cell there, or a variable.
            "address_names": report
                .address
                .and_then(|a| self.sheet.address_meanings(a))
                .unwrap_or(json!({})),
        }});
        (outcome, metadata)
    }

    /// Opens the journal on the first change, and tells Python where it is.
    fn open_journal(&mut self) {
        if self.journal.needs_opening() {
            let vscode = self.runtime.vscode_notebook_file();
            self.journal.open(vscode.as_deref());
            self.sheet.journaling = self.journal.is_on();
        }
        if let Some(path) = self.journal.take_opened() {
            let config = json!({"journal": path, "python": self.runtime.info.executable,
                                "notebook": self.journal.notebook()});
            if let Err(e) = self.runtime.audit_configure(&config) {
                tracing::warn!("telling Python where the journal is failed: {e}");
            }
        }
    }

    /// Records what a request changed in the journal and writes it, before the reply; its
    /// warnings (a journal that cannot be written, a torn line) go to the request's output.
    fn journal_request(&mut self, msg: &Message, req: journal::Request, report: &Report) {
        self.open_journal();
        let header = msg.header.fields();
        let user = self
            .journal
            .user(header.get("username").and_then(Value::as_str).unwrap_or(""));
        let started = std::time::Instant::now();
        self.journal.record(&mut self.sheet, &user, &req, report);
        let recorded = started.elapsed();
        self.journal.flush();
        self.sheet.journaling = self.journal.is_on();
        tracing::debug!(
            "journal: {:?} recording, {:?} in all, for {} touched cells",
            recorded,
            started.elapsed(),
            report.touched.len()
        );
        for warning in self.journal.take_warnings() {
            self.publish(
                msg,
                "stream",
                json!({"name": "stderr", "text": format!("{warning}\n")}),
            );
        }
    }

    /// Comms of the `pysheets` target are the kernel's own (Rust); others go to Python.
    fn grid_comm(&mut self, msg: &Message) -> bool {
        if let Some((comm_id, address)) = self.grid.explain_request(msg) {
            let mut data = self
                .runtime
                .audit_explain(address)
                .unwrap_or_else(|e| json!({"error": e.to_string()}));
            data["type"] = json!("explain");
            data["address"] = json!(address);
            self.publish(msg, "comm_msg", json!({"comm_id": comm_id, "data": data}));
            return true;
        }
        if let Some(ids) = self.grid.notebook_order(msg) {
            // Cells gone stale show it in their outputs, published under this message.
            self.begin_output(msg, false, false);
            let mut report = Report::default();
            let mode_before = self.sheet.mode;
            self.sheet
                .set_notebook_order(&self.runtime, &ids, &mut report);
            let time = journal::now();
            let change = journal::Request {
                time: &time,
                code: None,
                command: None,
                error: None,
                mode_before,
            };
            self.journal_request(msg, change, &report);
            self.finish_output();
            self.grid.update(&self.sheet, &report, |content| {
                self.publish(msg, "comm_msg", content)
            });
            return true;
        }
        let Shell {
            grid,
            sheet,
            identity,
            outbox,
            ..
        } = self;
        grid.handle(msg, sheet, |content| {
            publish_after_python(identity, outbox, msg, "comm_msg", content)
        })
    }
}

/// `cursor_pos` counts code points; a missing or out-of-range one means the end of the code.
fn cursor_pos(msg: &Message, code: &str) -> usize {
    let len = code.chars().count();
    msg.content["cursor_pos"]
        .as_u64()
        .map(|c| (c as usize).min(len))
        .unwrap_or(len)
}
