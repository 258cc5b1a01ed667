//! The command line of `pysheets` and `python -m pysheets_kernel`: run a kernel (`-f FILE`),
//! install the kernelspec, replay cells. It runs inside the Python that started it (see
//! `extension.rs`), so "the Python" of every command is that interpreter: no `--python`.

use crate::{core, install};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "pysheets",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// The connection file written by the Jupyter client.
    #[arg(short = 'f', long = "connection-file", value_name = "CONNECTION_FILE")]
    connection_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Install the kernelspec so Jupyter frontends list "PySheets".
    Install {
        /// Install for the current user (the Jupyter data dir).
        #[arg(long, group = "where")]
        user: bool,
        /// Install into the Python environment's prefix (the venv).
        #[arg(long, group = "where")]
        sys_prefix: bool,
        /// Install under PREFIX/share/jupyter/kernels.
        #[arg(long, group = "where", value_name = "PREFIX")]
        prefix: Option<PathBuf>,
        /// The kernelspec's name.
        #[arg(long, default_value = "pysheets")]
        name: String,
        #[arg(long, default_value = "PySheets")]
        display_name: String,
        /// How clients interrupt a running cell.
        #[arg(long, value_enum, default_value = "signal")]
        interrupt_mode: install::InterruptMode,
    },
    /// Evaluate cells headless with the kernel's sheet: cells as JSON in, states and values out.
    ///
    /// Reads one JSON document on stdin, the cells in notebook order:
    ///   {"cells": [{"address": "B7", "code": "...", "cellId": "optional-id"}, ...]}
    /// ("address" may be left out: the cell's label, else the next free address down column A).
    /// Evaluates them as a live kernel would (same sheet, same rules, forward references
    /// resolved by its re-runs), then writes one JSON document on stdout:
    ///   {"cells": {"B7": {"state": "ok" | "error" | "upstream-error" | "stale",
    ///                     "value": "<summary as the sheet shows it>", "error": "<message>"}}}
    /// ("error" only for failed cells; cells in notebook order).
    ///
    /// Cell output (print, C code, subprocesses) goes to stderr: stdout carries only the result.
    /// input() fails (there is no frontend). An interrupt (SIGINT) stops the replay: the
    /// interrupted cell is an error, the cells after it are stale.
    ///
    /// Exit status: 0 when the result was written (failed cells are in it), 1 when the
    /// runtime cannot load, 2 when stdin is not such a document.
    #[command(verbatim_doc_comment)]
    Replay,
}

/// The Python interpreter the command runs in, as Python sees itself.
pub struct Host {
    /// `sys.executable`: a venv's own `bin/python`, not the interpreter it links to.
    pub executable: PathBuf,
    /// `sys.prefix`: the environment `--sys-prefix` installs into.
    pub prefix: PathBuf,
}

/// Runs the command `argv` (program name first) and gives its exit status. Called with the
/// GIL released, on the thread Python calls from (the main thread, for a kernel).
pub fn run(argv: Vec<String>, host: &Host) -> u8 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and succeed.
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Some(Command::Install {
            user,
            sys_prefix,
            prefix,
            name,
            display_name,
            interrupt_mode,
        }) => {
            let location = match (user, sys_prefix, prefix) {
                (true, _, _) => install::Location::User,
                (_, true, _) => install::Location::SysPrefix,
                (_, _, Some(dir)) => install::Location::Prefix(dir),
                _ => install::Location::System,
            };
            let opts = install::InstallOptions {
                location,
                name,
                display_name,
                interrupt_mode,
                python: host.executable.clone(),
                sys_prefix: host.prefix.clone(),
            };
            match install::install(&opts) {
                Ok(dir) => {
                    println!("Installed kernelspec {} in {}", opts.name, dir.display());
                    0
                }
                Err(e) => {
                    eprintln!("pysheets install: {e}");
                    1
                }
            }
        }
        Some(Command::Replay) => core::replay::run(),
        None => match cli.connection_file {
            Some(file) => core::launch::run(&file),
            None => {
                eprintln!("pysheets: give a connection file with -f, or a subcommand (see --help)");
                2
            }
        },
    }
}
