//! `pysheets install`: writes the kernelspec, as `jupyter kernelspec install` would.
//!
//! The spec starts `<this python> -m pysheets_kernel -f {connection_file}`, as ipykernel's
//! does: the interpreter the user ran `pysheets install` with is the one cells run in. The
//! wheel also ships a spec as data files (`share/jupyter/kernels/pysheets/`, copied by
//! `scripts/build-wheel.sh` from `kernelspec/kernel.json`, which a test keeps equal to
//! [`spec`]) whose argv starts with plain `python`, which jupyter_client replaces with its own
//! interpreter.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot find the Jupyter data directory (no HOME, no JUPYTER_DATA_DIR)")]
    NoDataDir,
    #[error("cannot write the kernelspec to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
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
    /// The interpreter the spec starts (`sys.executable`).
    pub python: PathBuf,
    /// Its `sys.prefix`, for `--sys-prefix`.
    pub sys_prefix: PathBuf,
}

const LOGO_32: &[u8] = include_bytes!("../../kernelspec/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../../kernelspec/logo-64x64.png");

/// The content of `kernel.json` for a kernel started by `python`.
pub fn spec(python: &str, display_name: &str, interrupt_mode: InterruptMode) -> Value {
    let mode = match interrupt_mode {
        InterruptMode::Signal => "signal",
        InterruptMode::Message => "message",
    };
    json!({
        "argv": [python, "-m", "pysheets_kernel", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": mode,
        // mimalloc commits whole arenas up front by default: +13 MB of idle RSS, and slower
        // re-run batches here. It reads its options when the module loads, hence the spec.
        "env": {"MIMALLOC_ARENA_EAGER_COMMIT": "0"},
        "metadata": {"debugger": false},
    })
}

pub fn kernels_dir(location: &Location, sys_prefix: &Path) -> Option<PathBuf> {
    let base = match location {
        Location::User => crate::core::history::default_path()?
            .parent()?
            .parent()?
            .to_path_buf(),
        Location::SysPrefix => sys_prefix.join("share/jupyter"),
        Location::Prefix(dir) => dir.join("share/jupyter"),
        Location::System => PathBuf::from("/usr/local/share/jupyter"),
    };
    Some(base.join("kernels"))
}

/// Writes the spec and its logos under the kernels directory of `opts.location`.
pub fn install(opts: &InstallOptions) -> Result<PathBuf, InstallError> {
    let dir = kernels_dir(&opts.location, &opts.sys_prefix)
        .ok_or(InstallError::NoDataDir)?
        .join(&opts.name);
    let python = opts.python.display().to_string();
    write_spec(
        &dir,
        &spec(&python, &opts.display_name, opts.interrupt_mode),
    )?;
    Ok(dir)
}

/// `kernel.json` and the logos in `dir`.
fn write_spec(dir: &Path, spec: &Value) -> Result<(), InstallError> {
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|source| InstallError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| InstallError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let text = serde_json::to_string_pretty(spec).expect("a JSON object serialises");
    write(dir.join("kernel.json"), text.as_bytes())?;
    write(dir.join("logo-32x32.png"), LOGO_32)?;
    write(dir.join("logo-64x64.png"), LOGO_64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wheel ships kernelspec/kernel.json as data files; `pysheets install` writes
    /// [`spec`]. They must be the same spec but for the interpreter.
    #[test]
    fn the_shipped_spec_is_the_one_install_writes() {
        let shipped: Value = serde_json::from_str(include_str!("../../kernelspec/kernel.json"))
            .expect("kernelspec/kernel.json is JSON");
        assert_eq!(
            shipped,
            spec("python", "PySheets", InterruptMode::Signal),
            "kernelspec/kernel.json differs from install::spec"
        );
    }

    #[test]
    fn install_writes_the_spec_with_this_interpreter_and_the_logos() {
        let dir = std::env::temp_dir().join(format!("pysheets-install-{}", std::process::id()));
        let opts = InstallOptions {
            location: Location::Prefix(dir.clone()),
            name: "ps-test".into(),
            display_name: "PS test".into(),
            interrupt_mode: InterruptMode::Message,
            python: PathBuf::from("/a path/with space/bin/python"),
            sys_prefix: PathBuf::from("/unused"),
        };
        let written = install(&opts).unwrap();
        assert_eq!(written, dir.join("share/jupyter/kernels/ps-test"));
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(written.join("kernel.json")).unwrap())
                .unwrap();
        assert_eq!(spec["argv"][0], "/a path/with space/bin/python");
        assert_eq!(spec["argv"][2], "pysheets_kernel");
        assert_eq!(spec["interrupt_mode"], "message");
        assert!(written.join("logo-64x64.png").is_file());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
