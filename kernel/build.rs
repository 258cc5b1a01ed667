//! Makes the binary find, at run time, the same libpython it was linked against.
//!
//! Without an rpath the dynamic loader picks the system's libpython (Debian's 3.11.2 here),
//! whose `sys.prefix` is `/usr` and which never sees the project's venv.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    let version = config.version();
    println!(
        "cargo:rustc-env=PYSHEETS_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    if let Some(executable) = config.executable() {
        println!("cargo:rustc-env=PYSHEETS_BUILD_PYTHON={executable}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
