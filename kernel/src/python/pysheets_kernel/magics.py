"""The few magics a Python kernel is expected to accept, without IPython.

Lines starting with `%` or `!` (at any indentation, since VS Code sends `%matplotlib inline`
inside a `try:` block) become calls to the functions below before the code is parsed.
"""

import os
import sys
from functools import lru_cache

# `obj?` / `?obj` / `obj??`: help in the pager, as in IPython.
@lru_cache(maxsize=None)
def _patterns():
    # Compiled on first use: importing `re` is a few ms of start-up.
    import re

    help_line = re.compile(r"^[ \t]*(\?{0,2})([^\W\d][\w.]*)(\?{0,2})[ \t]*$")
    magic_line = re.compile(r"^([ \t]*)(%(?=[A-Za-z_])|!(?=[^=\s]))(.*)$")
    return help_line, magic_line


def _code_lines(code):
    """Line numbers (0-based) where a statement can start: not inside a multi-line string and
    not a continuation inside brackets. None when the code does not tokenize (then every line
    counts, as before)."""
    import io
    import tokenize

    inside = set()
    depth = 0
    last_row = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            (row, _), (end_row, _) = tok.start, tok.end
            if row > last_row:
                if depth > 0:
                    inside.add(row - 1)
                last_row = row
            if end_row > row:  # a string (or f-string part) spanning lines
                inside.update(range(row, end_row))
                last_row = max(last_row, end_row)
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                elif tok.string in ")]}":
                    depth = max(0, depth - 1)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return inside


def transform(code):
    """Rewrites magic lines into calls; leaves every other line as it is, and lines inside
    strings and brackets (`%s` in a docstring, `% x` continuing an expression) alone."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code
    help_line, magic_line = _patterns()
    lines = code.split("\n")
    out = []
    skip = None
    for number, line in enumerate(lines):
        h = help_line.match(line)
        m = None if h and (h.group(1) or h.group(3)) else magic_line.match(line)
        if (h and (h.group(1) or h.group(3))) or m:
            if skip is None:
                skip = _code_lines(code) or set()
            if number in skip:
                out.append(line)
                continue
        if h and (h.group(1) or h.group(3)):
            detail = int(len(h.group(1) + h.group(3)) > 1)
            out.append(f"__pysheets_magics__.page_help({h.group(2)!r}, {detail})")
        elif m:
            indent, kind, rest = m.groups()
            if kind == "!":
                out.append(f"{indent}__pysheets_magics__.system({rest!r})")
            else:
                out.append(f"{indent}__pysheets_magics__.line_magic({rest!r})")
        else:
            out.append(line)
    return "\n".join(out)


def system(cmd):
    """`!cmd`: runs in a shell; its output goes through the kernel's captured descriptors."""
    import subprocess

    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, errors="replace")
    if proc.stdout:
        sys.stdout.write(proc.stdout)
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    return None


# Payloads (e.g. the pager) the current execute_request's reply will carry.
payloads = []


def page_help(name, detail_level=0):
    from pysheets_kernel import introspect

    found = introspect.inspect_request(name, len(name), detail_level)
    if not found["found"]:
        raise NameError(f"Object `{name}` not found.")
    payloads.append({"source": "page", "data": found["data"], "start": 0})


class Exit:
    """`exit()` / `quit()`: asks the frontend to end the session (the `ask_exit` payload, as
    jupyter console expects), instead of raising SystemExit into the kernel."""

    def __repr__(self):
        return "Use exit() or quit() to end the session."

    def __call__(self, keep_kernel=False):
        payloads.append({"source": "ask_exit", "keepkernel": bool(keep_kernel)})


def _pip(args):
    import shlex

    cmd = [sys.executable, "-m", "pip"] + shlex.split(args)
    system(" ".join(shlex.quote(c) for c in cmd))
    print("Note: you may need to restart the kernel to use updated packages.")


def _matplotlib(args):
    # Figures are always shown inline by the kernel's own backend; the argument is accepted.
    os.environ.setdefault("MPLBACKEND", "module://pysheets_kernel.mpl_backend")


def _config(args):
    # IPython configuration (e.g. `Completer.use_jedi = False` from VS Code) has no effect here.
    return None


def _cd(args):
    os.chdir(os.path.expanduser(args.strip() or "~"))
    print(os.getcwd())


def _pwd(args):
    return os.getcwd()


def _env(args):
    args = args.strip()
    if not args:
        return dict(os.environ)
    if "=" in args:
        key, value = args.split("=", 1)
        os.environ[key.strip()] = value.strip()
        return None
    return os.environ.get(args)


def _lsmagic(args):
    return "Available magics: " + ", ".join("%" + name for name in sorted(MAGICS)) + ", !cmd"


def _audit(name):
    def magic(args):
        from pysheets_kernel import audit

        return getattr(audit, "magic_" + name)(args)

    magic.__name__ = name
    return magic


def _scenarios(name):
    def magic(args):
        from pysheets_kernel import scenarios

        return getattr(scenarios, "magic_" + name)(args)

    magic.__name__ = name
    return magic


MAGICS = {
    "pip": _pip,
    "matplotlib": _matplotlib,
    "config": _config,
    "cd": _cd,
    "pwd": _pwd,
    "env": _env,
    "lsmagic": _lsmagic,
    # The journal: who changed what, when (pysheets_kernel.audit).
    "history": _audit("history"),
    "explain": _audit("explain"),
    "asof": _audit("asof"),
    "diff": _audit("diff"),
    # The sheet on other inputs, in copies (pysheets_kernel.scenarios).
    "whatif": _scenarios("whatif"),
    "goalseek": _scenarios("goalseek"),
}


class UnknownMagic(Exception):
    pass


def line_magic(line):
    name, _, args = line.strip().partition(" ")
    func = MAGICS.get(name)
    if func is None:
        known = ", ".join("%" + n for n in sorted(MAGICS))
        raise UnknownMagic(f"%{name} is not a magic here. Available: {known}, and !cmd for shell commands.")
    return func(args)
