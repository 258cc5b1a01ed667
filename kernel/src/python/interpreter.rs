//! Starting CPython inside the kernel, in the Python environment the kernelspec names.
//!
//! A naive embed loads whatever libpython the loader finds and derives `sys.prefix` from a
//! PATH lookup: packages in the project's venv are then invisible. We set `program_name` to the
//! venv's interpreter (PEP 587), so CPython finds `pyvenv.cfg` exactly as `python` would.

use pyo3::ffi;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The Python version this binary was linked against, "3.11".
pub const LINKED_VERSION: &str = env!("PYSHEETS_PYTHON_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("Python interpreter {0} does not exist")]
    Missing(PathBuf),
    #[error(
        "the environment at {venv} is Python {found}, but this kernel was built for Python \
         {LINKED_VERSION}: rebuild the kernel with that environment's python, or make the \
         environment with Python {LINKED_VERSION}"
    )]
    VersionMismatch { venv: PathBuf, found: String },
    #[error("Python failed to start: {0}")]
    Init(String),
}

/// Which interpreter to present as: `--python`, then `PYSHEETS_PYTHON` (the kernelspec's env),
/// then an active venv, then the Python the kernel was built with.
pub fn choose_python(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("PYSHEETS_PYTHON").map(PathBuf::from))
        .or_else(|| {
            std::env::var_os("VIRTUAL_ENV").map(|v| PathBuf::from(v).join("bin").join("python"))
        })
        .or_else(|| option_env!("PYSHEETS_BUILD_PYTHON").map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
}

/// The `version` line of a venv's pyvenv.cfg, when `python` lives in a venv.
fn venv_version(python: &Path) -> Option<(PathBuf, String)> {
    let venv = python.parent()?.parent()?;
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info")
            .then(|| (venv.to_path_buf(), value.trim().to_string()))
    })
}

fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

pub fn check_environment(python: &Path) -> Result<(), InterpreterError> {
    if !python.exists() {
        return Err(InterpreterError::Missing(python.to_path_buf()));
    }
    if let Some((venv, found)) = venv_version(python) {
        if major_minor(&found) != LINKED_VERSION {
            return Err(InterpreterError::VersionMismatch { venv, found });
        }
    }
    Ok(())
}

/// Initialises CPython on the calling thread (which becomes Python's main thread, the one
/// that receives KeyboardInterrupt) and releases the GIL.
pub fn start(python: Option<&Path>) -> Result<(), InterpreterError> {
    if let Some(p) = python {
        check_environment(p)?;
    }
    pyo3::append_to_inittab!(_pysheets_native_module);
    unsafe {
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.parse_argv = 0;
        config.install_signal_handlers = 0;
        if let Some(p) = python {
            let name = CString::new(p.as_os_str().as_bytes())
                .map_err(|_| InterpreterError::Init("interpreter path has a NUL byte".into()))?;
            let status =
                ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, name.as_ptr());
            if ffi::PyStatus_Exception(status) != 0 {
                ffi::PyConfig_Clear(&mut config);
                return Err(InterpreterError::Init(status_message(&status)));
            }
        }
        let status = ffi::Py_InitializeFromConfig(&config);
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(InterpreterError::Init(status_message(&status)));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

unsafe fn status_message(status: &ffi::PyStatus) -> String {
    if status.err_msg.is_null() {
        "unknown error".into()
    } else {
        unsafe { CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    }
}

// `append_to_inittab!` wants a module path holding the generated init items.
use super::bridge::_pysheets_native as _pysheets_native_module;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_of_a_venv() {
        let dir = std::env::temp_dir().join(format!("pysheets-venv-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/python"), "").unwrap();
        std::fs::write(
            dir.join("pyvenv.cfg"),
            "home = /usr/bin\nversion = 2.7.18\n",
        )
        .unwrap();
        let err = check_environment(&dir.join("bin/python")).unwrap_err();
        assert!(err.to_string().contains("Python 2.7.18"), "{err}");
        std::fs::write(
            dir.join("pyvenv.cfg"),
            format!("version_info = {LINKED_VERSION}.1\n"),
        )
        .unwrap();
        assert!(check_environment(&dir.join("bin/python")).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_interpreter_is_an_error() {
        assert!(matches!(
            check_environment(Path::new("/nonexistent/bin/python")),
            Err(InterpreterError::Missing(_))
        ));
    }
}
