//! The command line of `pysheets` and `python -m pysheets_kernel`: run a kernel (`-f FILE`),
//! install the kernelspec, replay cells, run a notebook as a sheet, export it. It runs inside
//! the Python that started it (see `extension/`), so "the Python" of every command is that
//! interpreter: no `--python`. Commands written in Python (`run`, `export`) are parsed here
//! too and handed over as [`Outcome::Python`], so there is one command line and one `--help`.

use crate::{core, install};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
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
    /// Evaluate a notebook as a sheet, without Jupyter, and print its cells' values.
    ///
    /// The same engine and rules as the kernel (addresses, names, ranges). Prints the shown
    /// cells (all, by default) as a table: address, title, state, value.
    ///
    /// Exit status: 0 when every cell is ok, 1 when a cell failed (or is on a cycle: the
    /// message names it and the cause), 2 for a bad command line: a notebook that cannot be
    /// read, an unknown address, or a --set on a cell that is not an input.
    #[command(verbatim_doc_comment)]
    Run {
        /// The notebook (.ipynb).
        notebook: PathBuf,
        /// Give an input cell (a cell whose code is one Python literal, or `name = literal`)
        /// another value before the run, as ADDRESS=LITERAL (`--set A1=1500`). Repeatable.
        #[arg(long = "set", value_name = "ADDRESS=LITERAL")]
        set: Vec<String>,
        /// The cells to print (all, by default).
        #[arg(long, num_args = 1.., value_name = "ADDRESS")]
        show: Vec<String>,
        /// Write the notebook with its outputs and addresses to this file.
        #[arg(long, value_name = "OUT.ipynb")]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Export a notebook as a standalone Python script (cells in dependency order) that plain
    /// `python FILE` runs to the same values.
    Export {
        /// The notebook (.ipynb).
        notebook: PathBuf,
        #[arg(long, value_enum, default_value = "py")]
        to: ExportFormat,
        /// Where to write the script (stdout by default).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// A what-if worker: scenarios in on stdin, values out on stdout (started by
    /// `sheet.what_if`, not by hand).
    #[command(hide = true)]
    ScenarioWorker,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Py,
}

/// What the command line asks for: an exit status, or a command written in Python.
pub enum Outcome {
    Exit(u8),
    /// Call `module.main(args)` (args as JSON text) and exit with what it returns.
    Python {
        module: &'static str,
        args: Value,
    },
}

fn path_text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The Python interpreter the command runs in, as Python sees itself.
pub struct Host {
    /// `sys.executable`: a venv's own `bin/python`, not the interpreter it links to.
    pub executable: PathBuf,
    /// `sys.prefix`: the environment `--sys-prefix` installs into.
    pub prefix: PathBuf,
}

/// Runs the command `argv` (program name first) and gives its exit status, or the Python
/// command to run. Called with the GIL released, on the thread Python calls from (the main
/// thread, for a kernel).
pub fn run(argv: Vec<String>, host: &Host) -> Outcome {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and succeed.
            let _ = e.print();
            return Outcome::Exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Some(Command::Run {
            notebook,
            set,
            show,
            out,
            format,
        }) => Outcome::Python {
            module: "pysheets_kernel.headless",
            args: json!({
                "command": "run",
                "notebook": path_text(&notebook),
                "set": set,
                "show": show,
                "out": out.as_deref().map(path_text),
                "format": match format {
                    Format::Text => "text",
                    Format::Json => "json",
                    Format::Csv => "csv",
                },
            }),
        },
        Some(Command::Export {
            notebook,
            to: ExportFormat::Py,
            output,
        }) => Outcome::Python {
            module: "pysheets_kernel.headless",
            args: json!({
                "command": "export",
                "notebook": path_text(&notebook),
                "output": output.as_deref().map(path_text),
            }),
        },
        Some(Command::ScenarioWorker) => Outcome::Python {
            module: "pysheets_kernel.scenarios",
            args: json!({"command": "worker"}),
        },
        Some(Command::Install {
            user,
            sys_prefix,
            prefix,
            name,
            display_name,
            interrupt_mode,
        }) => Outcome::Exit(install_kernelspec(
            (user, sys_prefix, prefix),
            name,
            display_name,
            interrupt_mode,
            host,
        )),
        Some(Command::Replay) => Outcome::Exit(core::replay::run()),
        None => Outcome::Exit(match cli.connection_file {
            Some(file) => core::launch::run(&file),
            None => {
                eprintln!("pysheets: give a connection file with -f, or a subcommand (see --help)");
                2
            }
        }),
    }
}

fn install_kernelspec(
    (user, sys_prefix, prefix): (bool, bool, Option<PathBuf>),
    name: String,
    display_name: String,
    interrupt_mode: install::InterruptMode,
    host: &Host,
) -> u8 {
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
