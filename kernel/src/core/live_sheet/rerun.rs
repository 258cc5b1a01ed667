//! Re-running a plan: each cell once, upstream first, with early cutoff (a re-run whose value
//! and definitions did not change stops there), upstream errors, cycles, lazy cells going
//! stale, and an interrupt leaving the rest stale. The order and the cutoff rules are
//! `crate::sheet::Recompute`'s; this runs the cells and records what happened.

use super::{CellError, CellRuntime, CellState, LiveSheet, Output, OwnRun, Report, Shown};
use crate::core::journal::write_recomputed;
use crate::python::{CellRan, MarkKind, PyCallError, RunMode};
use crate::sheet::{Address, Outcome, Plan, Recompute};
use serde_json::json;

impl<C> LiveSheet<C> {
    pub(super) fn mark_cycle<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        plan: &Plan,
        message: &str,
        report: &mut Report,
    ) {
        for &a in &plan.cyclic {
            self.set_state(rt, a, CellState::Cycle(message.to_string()), report);
        }
        for &a in &plan.blocked {
            let source = plan.cyclic.first().copied().unwrap_or(a);
            let state = CellState::UpstreamError(source, message.to_string());
            self.set_state(rt, a, state, report);
        }
    }

    /// Records a state that replaces the cell's shown value by a message.
    pub(super) fn set_state<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        address: Address,
        state: CellState,
        report: &mut Report,
    ) {
        let Some(cell) = self.cells.get_mut(&address) else {
            return;
        };
        let (text, kind, drop_value) = match &state {
            CellState::UpstreamError(source, message) => (
                format!("upstream error in {source}: {message}"),
                MarkKind::Error,
                true,
            ),
            CellState::Cycle(message) => (message.clone(), MarkKind::Error, true),
            CellState::Error(message) => (message.clone(), MarkKind::Error, true),
            CellState::Stale => (
                format!("stale: {} (run `%sheet run` to recompute)", cell.summary),
                MarkKind::Stale,
                false,
            ),
            CellState::Ok => (String::new(), MarkKind::Ok, false),
        };
        if matches!(state, CellState::UpstreamError(..) | CellState::Cycle(_)) {
            report.marked_failed.push(address);
        }
        cell.state = state;
        report.touched.insert(address);
        if let Err(e) = rt.mark_cell(address, &text, kind, drop_value) {
            tracing::warn!("showing the state of {address} failed: {e}");
        }
    }

    /// The first precedent in a failed state (outside the batch being run), with its message.
    fn failed_precedent(&self, address: Address) -> Option<(Address, String)> {
        self.sheet.precedents(address).into_iter().find_map(|p| {
            let state = &self.cells.get(&p)?.state;
            match state {
                CellState::UpstreamError(source, message) => Some((*source, message.clone())),
                _ => state.failed().map(|m| (p, m)),
            }
        })
    }

    /// Runs one cell, binding each name it must see as the cells before it left it to the
    /// version of the definer the graph chose ([`crate::sheet::Sheet::bindings`]; sent to the
    /// runtime only when those bindings changed since the cell's last run), and each empty
    /// address it reads to None (unless that is another cell's variable's name).
    fn run_one<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        address: Address,
        mode: RunMode,
        count: i64,
    ) -> Result<CellRan, PyCallError> {
        let cell = &self.cells[&address];
        let Some(handle) = &cell.py else {
            return Err(PyCallError::Raised(crate::python::PyException {
                ename: "KernelError".into(),
                evalue: "this cell has no Python object".into(),
                traceback: vec![],
            }));
        };
        let empty: Vec<String> = cell
            .reads_addresses
            .iter()
            .filter(|a| !self.cells.contains_key(a))
            .map(|a| a.to_string())
            .filter(|a| !self.sheet.is_defined(a))
            .collect();
        let mut resolved = self.sheet.bindings(address);
        // A name shaped like an address that holds a cell is that cell's value, not another
        // cell's variable: the cell wins.
        resolved.retain(|(name, _)| {
            !name.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
                || !name
                    .parse::<Address>()
                    .is_ok_and(|a| self.cells.contains_key(&a))
        });
        let unchanged = cell.bound_epoch == self.epoch
            && resolved
                .iter()
                .copied()
                .eq(cell.bound.iter().map(|(n, a)| (n.as_str(), *a)));
        if unchanged {
            return rt.run_cell(handle, mode, count, &empty, None);
        }
        let bind: Vec<(&str, Option<&C>)> = resolved
            .iter()
            .filter_map(|&(name, definer)| match definer {
                None => Some((name, None)),
                Some(d) => Some((name, Some(self.cells.get(&d)?.py.as_ref()?))),
            })
            .collect();
        let run = rt.run_cell(handle, mode, count, &empty, Some(&bind));
        let bound = resolved.iter().map(|&(n, a)| (n.to_string(), a)).collect();
        let cell = self
            .cells
            .get_mut(&address)
            .expect("the cell being run exists");
        cell.bound = bound;
        cell.bound_epoch = self.epoch;
        run
    }

    /// What the cell reads, when that changed since the journal last wrote it.
    fn rewired_reads(&self, address: Address) -> Option<Vec<Address>> {
        self.sheet
            .is_rewired(address)
            .then(|| self.sheet.precedents(address))
    }

    /// Leaves each name defined by several cells at its last definer's version: the
    /// namespace a top-to-bottom run would leave.
    fn settle<R: CellRuntime<Cell = C>>(&self, rt: &R) {
        let last = self.sheet.final_bindings();
        if last.is_empty() {
            return;
        }
        let bind: Vec<(&str, &C)> = last
            .iter()
            .filter_map(|&(name, definer)| Some((name, self.cells.get(&definer)?.py.as_ref()?)))
            .collect();
        if let Err(e) = rt.settle(&bind) {
            tracing::warn!("settling the namespace after a batch failed: {e}");
        }
    }

    /// Runs `plan` in order with early cutoff. `edited` is the request's own cell (shown as a
    /// new output); every other cell updates its output in place, or goes stale when lazy.
    #[allow(clippy::too_many_arguments)]
    pub fn run_plan<R: CellRuntime<Cell = C>>(
        &mut self,
        rt: &R,
        out: &impl Output,
        plan: &Plan,
        edited: Option<(Address, Shown)>,
        force: bool,
        count: i64,
        report: &mut Report,
    ) -> Result<(), CellError> {
        let started = std::time::Instant::now();
        // Failures inside the batch are Recompute's business; only a cell that was failed
        // before the batch needs each cell's precedents checked (skipped when there is none).
        let failed_before = self.failed_cells().next().is_some();
        // Re-run cells print nowhere; toggled only when the mode changes, not per cell.
        let mut muted = false;
        // Cells that evaluate the model depend on their upstream cells' code: they run
        // whenever they are in the plan, as roots, whatever early cutoff says.
        let forced;
        let plan = if self.model_readers == 0 {
            plan
        } else {
            let mut roots = plan.roots.clone();
            roots.extend(
                plan.order
                    .iter()
                    .filter(|a| self.cells.get(a).is_some_and(|c| c.reads_model)),
            );
            roots.sort_unstable();
            roots.dedup();
            forced = Plan {
                roots,
                ..plan.clone()
            };
            &forced
        };
        let mut recompute = Recompute::new(&self.sheet, plan);
        let mut own_error = None;
        let mut interrupted = false;
        let sheet_lazy = self.mode == super::Mode::Lazy;
        let total = plan.order.len();
        let mut done = 0;
        let mut progress_shown: Option<std::time::Instant> = None;
        while let Some(address) = recompute.next_cell() {
            // A batch past `progress_after` says how far it got, at most every PROGRESS_EVERY.
            if progress_shown.map_or(started.elapsed() >= self.progress_after, |t| {
                t.elapsed() >= super::PROGRESS_EVERY
            }) {
                out.progress(done, total, Some(address));
                progress_shown = Some(std::time::Instant::now());
            }
            done += 1;
            let is_edited = edited.is_some_and(|(a, _)| a == address);
            let lazy = sheet_lazy || self.cells.get(&address).is_some_and(|c| c.lazy);
            if interrupted || (!is_edited && !force && lazy) {
                self.set_state(rt, address, CellState::Stale, report);
                report.stale.push(address);
                recompute.mark_changed(address);
                continue;
            }
            let failed_precedent = if failed_before {
                self.failed_precedent(address)
            } else {
                None
            };
            if let Some((source, message)) = failed_precedent {
                let mut error = CellError::new(
                    "UpstreamError",
                    format!("{address} reads {source}, which failed: {message}"),
                );
                if is_edited {
                    error.publish(out);
                    own_error = Some(error);
                }
                self.set_state(
                    rt,
                    address,
                    CellState::UpstreamError(source, message),
                    report,
                );
                recompute.mark_failed(address);
                continue;
            }
            let mode = match edited {
                Some((a, shown)) if a == address => shown.run_mode(),
                _ => RunMode::Update,
            };
            if muted != (mode == RunMode::Update) {
                muted = mode == RunMode::Update;
                out.mute_streams(muted);
            }
            let run_started = std::time::Instant::now();
            let outcome = self.run_one(rt, address, mode, count);
            let ms = run_started.elapsed().as_secs_f64() * 1e3;
            report.touched.insert(address);
            if !is_edited {
                report.reran.push(address);
            }
            match outcome {
                Ok(ran) => {
                    let cell = self.cells.get_mut(&address).expect("planned cells exist");
                    cell.state = CellState::Ok;
                    cell.summary = ran.summary;
                    cell.value_type = ran.value_type;
                    cell.last_ms = ms;
                    cell.png = ran.png;
                    // The edited cell's code changed, so its readers re-run even when its
                    // value did not (a new `def f` evaluates to None both times); a re-run
                    // that bound its names to new objects changed what its readers see.
                    if is_edited || ran.changed || ran.defs_changed {
                        recompute.mark_changed(address);
                        if self.journaling && !is_edited {
                            let reads = self.rewired_reads(address);
                            let cell = &self.cells[&address];
                            write_recomputed(
                                &mut self.journal_entries,
                                address,
                                &cell.value_type,
                                &cell.summary,
                                ms,
                                None,
                                reads.as_deref(),
                            );
                        }
                    } else {
                        recompute.mark_unchanged(address);
                        report.unchanged.push(address);
                    }
                    if is_edited {
                        report.own = Some(OwnRun {
                            payload: ran.payload.unwrap_or(json!([])),
                            result_text: ran.result_text,
                        });
                    }
                }
                Err(failure) => {
                    interrupted = matches!(failure, PyCallError::Interrupted(_));
                    report.interrupted |= interrupted;
                    let error = CellError::shown(failure.exception());
                    if interrupted && !is_edited {
                        // Stopped, not broken: it and what is below it keep their last values.
                        self.set_state(rt, address, CellState::Stale, report);
                        report.stale.push(address);
                        recompute.mark_changed(address);
                        continue;
                    }
                    let cell = self.cells.get_mut(&address).expect("planned cells exist");
                    cell.state = CellState::Error(format!("{}: {}", error.ename, error.evalue));
                    cell.summary = String::new();
                    cell.value_type = String::new();
                    cell.last_ms = ms;
                    if interrupted {
                        recompute.mark_changed(address);
                    } else {
                        recompute.mark_failed(address);
                    }
                    if self.journaling && !is_edited {
                        let message = format!("{}: {}", error.ename, error.evalue);
                        let reads = self.rewired_reads(address);
                        write_recomputed(
                            &mut self.journal_entries,
                            address,
                            "",
                            "",
                            ms,
                            Some(("error", &message)),
                            reads.as_deref(),
                        );
                    }
                    if is_edited {
                        own_error = Some(error);
                    }
                }
            }
        }
        if muted {
            out.mute_streams(false);
        }
        if progress_shown.is_some() {
            out.progress(done, total, None);
        }
        self.settle(rt);
        tracing::debug!(
            "ran a plan of {} cells in {:?}",
            plan.order.len(),
            started.elapsed()
        );
        let upstream: Vec<(Address, Address)> = recompute
            .outcomes()
            .filter_map(|(a, o)| match o {
                Outcome::UpstreamError(source) => Some((a, source)),
                _ => None,
            })
            .collect();
        for (address, source) in upstream {
            let message = self
                .cells
                .get(&source)
                .and_then(|c| c.state.failed())
                .unwrap_or_else(|| "failed".into());
            self.set_state(
                rt,
                address,
                CellState::UpstreamError(source, message),
                report,
            );
        }
        match own_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
