"""PySheets: the Python side of the kernel.

User-facing: `display`, `update_display`, `clear_output`, `DisplayHandle` (also builtins), and
`pysheets.comm` for comms. The kernel's Rust side calls `setup()` once, then the `*_json` entry
points below with JSON strings, so the FFI boundary stays narrow.
"""
