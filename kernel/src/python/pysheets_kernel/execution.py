"""Running a cell: magics, the value of the last expression, tracebacks that show the user's code."""

import builtins
import os
import sys

from pysheets_kernel import _native
from pysheets_kernel.lazy import LazyModule
from pysheets_kernel import display as _display
from pysheets_kernel import magics as _magics

ast = LazyModule("ast")
json = LazyModule("json")
linecache = LazyModule("linecache")

# Frames whose code comes from the kernel's own modules (this package's; its unit tests sit
# beside them in the sources but are not the kernel) are left out of tracebacks.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_internal(filename):
    folder, _, name = filename.rpartition(os.sep)
    return folder == _PACKAGE_DIR and not name.startswith("test_")


def _main_namespace():
    main = sys.modules.get("__main__")
    if main is None:
        main = type(sys)("__main__")
        sys.modules["__main__"] = main
    ns = main.__dict__
    ns["__name__"] = "__main__"
    ns["__builtins__"] = builtins
    return ns


# Cells run in `__main__`'s namespace, as in ipykernel: `pickle` (so multiprocessing, joblib,
# Dask) finds cell-defined functions and classes there, and `sys.modules[__name__]` is the
# namespace cells see.
user_ns = _main_namespace()


def _cell_filename(count):
    return f"<cell {count}>" if count else "<cell>"


def _register_source(filename, code):
    # linecache lets tracebacks and inspect show the cell's lines.
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)


def _ends_with_semicolon(code):
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER,
            tokenize.INDENT, tokenize.DEDENT}
    for tok in reversed(tokens):
        if tok.type in skip:
            continue
        return tok.type == tokenize.OP and tok.string == ";"
    return False


def format_exception(exc):
    """ename, evalue and traceback lines, without the kernel's own frames."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc, tb)
    text = _display.clean_text("".join(lines).rstrip("\n"))
    return {
        "ename": type(exc).__name__,
        "evalue": _display.clean_text(_display.exception_text(exc)),
        "traceback": text.split("\n"),
    }


def publish_error(err):
    _native.publish("error", json.dumps(err))


def _split_last_expression(tree):
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        return tree, ast.Expression(last.value)
    return tree, None


def run_cell(code, count, silent, filename=None):
    """Runs `code` in the user namespace; returns (value, has_value, error dict or None).

    The error has already been published unless the request is silent.
    """
    filename = filename or _cell_filename(count)
    source = _magics.transform(code)
    _register_source(filename, source)
    try:
        tree = ast.parse(source, filename, "exec")
        body, last = _split_last_expression(tree)
        exec(compile(body, filename, "exec"), user_ns)
        value = None
        if last is not None:
            value = eval(compile(last, filename, "eval"), user_ns)
        return value, last is not None, None
    except BaseException as exc:  # KeyboardInterrupt and SystemExit end the cell, not the kernel
        err = format_exception(exc)
        if not silent:
            publish_error(err)
        return None, False, err


def show_figures():
    """Shows figures the cell left open, as the inline backend does."""
    mpl = sys.modules.get("matplotlib.pyplot")
    if mpl is None:
        return
    try:
        from matplotlib._pylab_helpers import Gcf

        if Gcf.get_all_fig_managers():
            from pysheets_kernel import mpl_backend

            mpl_backend.show()
    except Exception as exc:
        publish_error(format_exception(exc))


def execute(code, count, silent, store_history):
    """The whole of an execute_request's Python side; returns the reply's status fields."""
    _magics.payloads.clear()
    reply = {"status": "ok"}
    value, has_value, err = run_cell(code, count, silent)
    if err is None and not silent:
        if has_value and value is not None and not _ends_with_semicolon(code):
            data, metadata = _display.format_bundle(value)
            reply["result_text"] = data.get("text/plain")
            _native.publish("execute_result", json.dumps(
                {"execution_count": count, "data": data, "metadata": metadata}, default=str))
        if store_history and has_value and value is not None:
            user_ns["_"] = value
    if not silent:
        show_figures()
    reply["payload"] = list(_magics.payloads)
    if err is not None:
        reply.update(status="error", **err)
    return reply


def user_expressions(expressions):
    out = {}
    for name, expr in (expressions or {}).items():
        try:
            value = eval(compile(expr, "<user expression>", "eval"), user_ns)
            # A tool's question, not the user's output: a failing formatter is left out.
            data, metadata = _display.format_bundle(value, report=None)
            out[name] = {"status": "ok", "data": data, "metadata": metadata}
        except BaseException as exc:
            out[name] = dict(status="error", **format_exception(exc))
    return out
