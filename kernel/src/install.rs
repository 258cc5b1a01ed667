//! `pysheets-kernel install`: writes the kernelspec, as `jupyter kernelspec install` would.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot find a Python interpreter: pass --python PATH or activate a venv")]
    NoPython,
    #[error("cannot ask {python} for its sys.prefix: {reason}")]
    Prefix { python: String, reason: String },
    #[error("cannot write the kernelspec to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot locate this binary: {0}")]
    SelfPath(std::io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InterruptMode {
    Signal,
    Message,
}

pub enum Location {
    User,
    SysPrefix,
    Prefix(PathBuf),
    System,
}

pub struct InstallOptions {
    pub location: Location,
    pub name: String,
    pub display_name: String,
    pub interrupt_mode: InterruptMode,
    pub python: Option<PathBuf>,
}

const LOGO_32: &[u8] = include_bytes!("../../kernelspec/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../../kernelspec/logo-64x64.png");

/// The interpreter the kernel will present as: `--python`, else the active venv's, else the
/// first `python3` on PATH; returned with its `sys.prefix`.
fn python_and_prefix(explicit: Option<&Path>) -> Result<(PathBuf, PathBuf), InstallError> {
    let python = explicit
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("VIRTUAL_ENV").map(|v| PathBuf::from(v).join("bin").join("python"))
        })
        .or_else(|| find_on_path("python3"))
        .ok_or(InstallError::NoPython)?;
    let out = Command::new(&python)
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .map_err(|e| InstallError::Prefix {
            python: python.display().to_string(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(InstallError::Prefix {
            python: python.display().to_string(),
            reason: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let prefix = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // Keep the venv's own path (not the interpreter a symlink points to): that is what makes
    // CPython find pyvenv.cfg.
    let python = std::path::absolute(&python).unwrap_or(python);
    Ok((python, prefix))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub fn kernels_dir(location: &Location, prefix: &Path) -> Option<PathBuf> {
    let base = match location {
        Location::User => crate::core::history::default_path()?
            .parent()?
            .parent()?
            .to_path_buf(),
        Location::SysPrefix => prefix.join("share/jupyter"),
        Location::Prefix(dir) => dir.join("share/jupyter"),
        Location::System => PathBuf::from("/usr/local/share/jupyter"),
    };
    Some(base.join("kernels"))
}

pub fn install(opts: &InstallOptions) -> Result<PathBuf, InstallError> {
    let (python, prefix) = python_and_prefix(opts.python.as_deref())?;
    let binary = std::env::current_exe().map_err(InstallError::SelfPath)?;
    let dir = kernels_dir(&opts.location, &prefix)
        .ok_or(InstallError::NoPython)?
        .join(&opts.name);
    let mode = match opts.interrupt_mode {
        InterruptMode::Signal => "signal",
        InterruptMode::Message => "message",
    };
    let spec = json!({
        "argv": [binary.display().to_string(), "-f", "{connection_file}"],
        "display_name": opts.display_name,
        "language": "python",
        "interrupt_mode": mode,
        // mimalloc commits whole arenas up front by default: +13 MB of idle RSS, and slower
        // re-run batches here. It reads its options before `main`, hence the kernelspec.
        "env": {
            "PYSHEETS_PYTHON": python.display().to_string(),
            "MIMALLOC_ARENA_EAGER_COMMIT": "0",
        },
        "metadata": {"debugger": false},
    });
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|source| InstallError::Write { path, source })
    };
    std::fs::create_dir_all(&dir).map_err(|source| InstallError::Write {
        path: dir.clone(),
        source,
    })?;
    let text = serde_json::to_string_pretty(&spec).expect("a JSON object serialises");
    write(dir.join("kernel.json"), text.as_bytes())?;
    write(dir.join("logo-32x32.png"), LOGO_32)?;
    write(dir.join("logo-64x64.png"), LOGO_64)?;
    Ok(dir)
}
