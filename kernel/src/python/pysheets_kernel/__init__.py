"""PySheets: a Jupyter kernel that turns a notebook into a live spreadsheet of Python.

Start a kernel with ``python -m pysheets_kernel -f CONNECTION_FILE`` (what the kernelspec
does), or use the ``pysheets`` command (``pysheets install``, ``pysheets --version``).

The runtime's modules are this package's: ``display``, ``update_display``, ``clear_output`` and ``DisplayHandle`` are
also builtins, and ``pysheets_kernel.comm`` is the comm API. The kernel's Rust side calls
``pysheets_kernel.entry.setup()`` once, then its ``*_json`` entry points with JSON strings,
so the FFI boundary stays narrow.
"""



def __getattr__(name):
    # Not importlib.metadata: the kernel imports this package at every start.
    if name == "__version__":
        from pysheets_kernel._native import __version__

        return __version__
    raise AttributeError(f"module 'pysheets_kernel' has no attribute {name!r}")
