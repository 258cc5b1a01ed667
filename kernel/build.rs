//! For `cargo test` and `cargo bench`, which run Rust code that starts CPython itself: the
//! binaries must find, at run time, the libpython they were linked against (without an rpath
//! the loader picks the system's, Debian's 3.11.2 here, whose `sys.prefix` is `/usr`).
//!
//! The extension module the wheel ships (maturin sets PYO3_BUILD_EXTENSION_MODULE) links no
//! libpython and gets no rpath: the interpreter that loads it provides Python.

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    if std::env::var_os("PYO3_BUILD_EXTENSION_MODULE").is_some() {
        return;
    }
    if let Some(lib_dir) = pyo3_build_config::get().lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
