"""The functions the Rust runtime calls. JSON in, JSON out, so the boundary stays one type."""

import _signal
import builtins
import os
import sys

from pysheets_kernel import display, execution, magics, streams
from pysheets_kernel.lazy import LazyModule

json = LazyModule("json")

# `introspect` and `comm` are imported on first use: start-up time is a feature.


def setup():
    # Python installs this handler only when SIGINT was not ignored at its start (a kernel
    # launched from a background job inherits it ignored); interrupts need it.
    # `_signal`, not `signal`: the latter imports enum, a few ms of start-up.
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    os.environ.setdefault("MPLBACKEND", "module://pysheets_kernel.mpl_backend")
    sys.stdout = streams.KernelStream("stdout")
    sys.stderr = streams.KernelStream("stderr")
    os.register_at_fork(after_in_child=streams.after_fork_in_child)
    builtins.input = streams.kernel_input
    builtins.display = display.display
    builtins.update_display = display.update_display
    builtins.clear_output = display.clear_output
    builtins.__pysheets_magics__ = magics
    builtins.exit = builtins.quit = magics.Exit()
    # `sheet.history("B7")`, `sheet.explain(…)`, `sheet.asof(…)`: a builtin, so a cell's own
    # `sheet` variable wins, and imported only when used.
    builtins.sheet = LazyModule("pysheets_kernel.audit")
    sys.displayhook = _displayhook
    _bridge_ipython()
    return (sys.version.split()[0], sys.prefix, sys.executable)


def _displayhook(value):
    if value is not None:
        display.display(value)


def _bridge_ipython():
    """When IPython is installed, its `display` and `clear_output` publish through this kernel.

    IPython is not imported here (it costs start-up time): a finder patches the module when the
    user's code imports it.
    """
    import importlib.machinery

    targets = {"IPython.core.display_functions", "IPython.display", "comm", "getpass"}

    class Patch:
        def find_spec(self, name, path, target=None):
            if name not in targets:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            original = spec.loader.exec_module

            def exec_module(module, original=original):
                original(module)
                _patch_ipython(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Patch())


def _patch_ipython(module):
    if module.__name__ == "getpass":
        module.getpass = streams.kernel_getpass
        return
    if module.__name__ == "comm":
        from pysheets_kernel import comm

        comm.adopt_comm_package(module)
        return
    def ipython_display(*objs, **kwargs):
        return display.display(*objs, **kwargs)

    for name, value in (("display", ipython_display), ("clear_output", display.clear_output),
                        ("update_display", display.update_display)):
        if hasattr(module, name):
            setattr(module, name, value)
    if hasattr(module, "publish_display_data"):
        module.publish_display_data = lambda data, metadata=None, *a, transient=None, **k: \
            display.publish_display_data(data, metadata, transient)


def execute_json(request):
    r = json.loads(request)
    reply = execution.execute(r["code"], r["execution_count"], r["silent"], r["store_history"])
    if r.get("user_expressions"):
        reply["user_expressions"] = execution.user_expressions(r["user_expressions"])
    return json.dumps(reply, default=str)


def sheet_analyze_json(request):
    """The static analysis of a cell, of the code Python will run (after the magic rewrite).

    Never an empty result that looks like "no dependencies": any failure (a bug, an interrupt)
    comes back as `error`, with every other field empty.
    """
    try:
        from pysheets_kernel import sheet

        r = json.loads(request)
        result = sheet.analyze(magics.transform(r["code"]), r.get("mutating_methods", ()))
    except KeyboardInterrupt:
        raise  # the kernel shows it as the cell's KeyboardInterrupt (the cell does not run)
    except BaseException as exc:  # the user must see it failed, never "no dependencies"
        what = f"failed: {type(exc).__name__}: {exc}".replace("\n", " ")
        result = {
            "reads_names": [], "reads_addresses": [], "defines": [], "assigns_address": None,
            "value_kind": "none", "error": f"AnalysisError: the analysis of the cell {what}",
            "maybe_defines": [], "mutates": [], "deferred_reads": [], "deferred_writes": [],
            "dynamic": False, "star_imports": [], "address_defines": [],
            "mutating_methods": [], "function_writes": {}, "reads_builtins": [],
            "reads_model": False,
        }
    return json.dumps(result)


def user_expressions_json(request):
    return json.dumps(execution.user_expressions(json.loads(request)), default=str)


def sheet_mark_json(request):
    from pysheets_kernel import cells

    return cells.mark_json(request)


def sheet_delete_json(request):
    from pysheets_kernel import cells

    return cells.delete_json(request)


def sheet_forget_json(request):
    from pysheets_kernel import cells

    r = json.loads(request)
    cells.forget(r["address"], r["names"])
    return "null"


def complete_json(code, cursor_pos):
    from pysheets_kernel import introspect

    return json.dumps(introspect.complete(code, cursor_pos))


def inspect_json(code, cursor_pos, detail_level):
    from pysheets_kernel import introspect

    return json.dumps(introspect.inspect_request(code, cursor_pos, detail_level), default=str)


def is_complete_json(code):
    from pysheets_kernel import introspect

    return json.dumps(introspect.is_complete(code))


def comm_json(msg_type, msg, buffers=()):
    from pysheets_kernel import comm

    msg = json.loads(msg)
    msg["buffers"] = [memoryview(b) for b in buffers]
    try:
        {"comm_open": comm.handle_open, "comm_msg": comm.handle_msg,
         "comm_close": comm.handle_close}[msg_type](msg)
    except BaseException as exc:
        execution.publish_error(execution.format_exception(exc))
    return "null"


def comm_info_json(target_name):
    from pysheets_kernel import comm

    return json.dumps(comm.info(target_name))


def audit_vscode_file_json():
    from pysheets_kernel import execution

    path = execution.user_ns.get("__vsc_ipynb_file__")
    return json.dumps(path if isinstance(path, str) else None)


def audit_configure_json(request):
    from pysheets_kernel import audit

    audit.configure(**json.loads(request))
    return "null"


def audit_verify_json():
    from pysheets_kernel import audit

    return json.dumps(audit.verify_bundle())


def audit_explain_json(address):
    from pysheets_kernel import audit

    return json.dumps(audit.explain_for_grid(address))
