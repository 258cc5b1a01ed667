//! pysheets-kernel: a Jupyter kernel that turns a notebook into a live spreadsheet of Python.

use pysheets_kernel::{core, install};

// Messages are built on the Python thread and freed on the socket threads; glibc's malloc
// spent a quarter of the Python thread's time in a re-run batch on that (perf: _int_malloc,
// malloc_consolidate, unlink_chunk).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pysheets-kernel",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// The connection file written by the Jupyter client.
    #[arg(short = 'f', long = "connection-file", value_name = "CONNECTION_FILE")]
    connection_file: Option<PathBuf>,
    /// The Python interpreter (of a venv) whose environment cells run in.
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
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
        /// The Python interpreter (of a venv) the kernel runs cells in.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
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
    /// Exit status: 0 when the result was written (failed cells are in it), 1 when Python
    /// cannot start, 2 when stdin is not such a document.
    #[command(verbatim_doc_comment)]
    Replay {
        /// The Python interpreter (of a venv) whose environment cells run in.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Install {
            user,
            sys_prefix,
            prefix,
            name,
            display_name,
            interrupt_mode,
            python,
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
                python: python.or(cli.python),
            };
            match install::install(&opts) {
                Ok(dir) => {
                    println!("Installed kernelspec {} in {}", opts.name, dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("pysheets-kernel install: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Replay { python }) => core::replay::run(python.or(cli.python)),
        None => match cli.connection_file {
            Some(file) => core::launch::run(&file, cli.python),
            None => {
                eprintln!(
                    "pysheets-kernel: give a connection file with -f, or a subcommand (see --help)"
                );
                ExitCode::from(2)
            }
        },
    }
}
