"""Completion, inspection and is_complete, on the live namespace, without IPython or jedi."""

import builtins
import codeop
import inspect
import keyword
import pkgutil
import re
import sys
import warnings

from pysheets import magics as _magics
from pysheets.execution import user_ns

_TOKEN = re.compile(r"[^\W\d][\w]*(?:\.[^\W\d]?\w*)*$|$", re.UNICODE)
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]*)(?:\s+import\s+([\w, ]*))?|import\s+([\w., ]*))$")
_module_names = None


def _modules():
    global _module_names
    if _module_names is None:
        names = set(sys.builtin_module_names)
        names.update(m.name for m in pkgutil.iter_modules())
        _module_names = sorted(names)
    return _module_names


def _resolve(dotted):
    """Follows a dotted name through the namespace by attribute access only (no calls)."""
    parts = dotted.split(".")
    if parts[0] in user_ns:
        obj = user_ns[parts[0]]
    elif hasattr(builtins, parts[0]):
        obj = getattr(builtins, parts[0])
    else:
        raise LookupError(parts[0])
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def _import_matches(line):
    m = _IMPORT.match(line)
    if not m:
        return None
    from_mod, from_names, plain = m.groups()
    if plain is not None:
        prefix = plain.split(",")[-1].strip()
        return prefix, [n for n in _modules() if n.startswith(prefix)] if "." not in prefix \
            else _submodules(prefix)
    if from_names is not None:
        prefix = from_names.split(",")[-1].strip()
        try:
            mod = __import__(from_mod, fromlist=["*"])
        except Exception:
            return prefix, []
        names = set(dir(mod))
        if hasattr(mod, "__path__"):
            names.update(m.name for m in pkgutil.iter_modules(mod.__path__))
        return prefix, sorted(n for n in names if n.startswith(prefix))
    prefix = from_mod
    if "." in prefix:
        return prefix, _submodules(prefix)
    return prefix, [n for n in _modules() if n.startswith(prefix)]


def _submodules(prefix):
    package, _, start = prefix.rpartition(".")
    try:
        mod = __import__(package, fromlist=["*"])
    except Exception:
        return []
    if not hasattr(mod, "__path__"):
        return []
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)
                  if m.name.startswith(start))


def complete(code, cursor_pos):
    before = code[:cursor_pos]
    line = before.rsplit("\n", 1)[-1]
    imported = _import_matches(line)
    if imported is not None:
        prefix, matches = imported
        return {"matches": matches, "cursor_start": cursor_pos - len(prefix),
                "cursor_end": cursor_pos, "metadata": {}, "status": "ok"}
    token = _TOKEN.search(before).group(0)
    if "." in token:
        base, _, attr = token.rpartition(".")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = _resolve(base)
                names = dir(obj)
        except Exception:
            names = []
        if not attr.startswith("_"):
            names = [n for n in names if not n.startswith("_")]
        # Whole dotted names replacing the whole token, as IPython answers.
        matches = sorted(f"{base}.{n}" for n in names if n.startswith(attr))
        start = cursor_pos - len(token)
    else:
        pool = set(user_ns) | set(dir(builtins)) | set(keyword.kwlist)
        if not token.startswith("_"):
            pool = {n for n in pool if not n.startswith("_")}
        matches = sorted(n for n in pool if n.startswith(token))
        start = cursor_pos - len(token)
    return {"matches": matches, "cursor_start": start, "cursor_end": cursor_pos,
            "metadata": {}, "status": "ok"}


def _name_at(code, cursor_pos):
    """The dotted name under the cursor, or the one being called when the cursor is in `(`."""
    ident = re.compile(r"[\w.]")
    start = cursor_pos
    while start > 0 and ident.match(code[start - 1]):
        start -= 1
    end = cursor_pos
    while end < len(code) and ident.match(code[end]):
        end += 1
    name = code[start:end].strip(".")
    if name:
        return name
    depth = 0
    for i in range(cursor_pos - 1, -1, -1):
        ch = code[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                return _name_at(code, i)
            depth -= 1
    return ""


def inspect_request(code, cursor_pos, detail_level=0):
    name = _name_at(code, cursor_pos)
    try:
        obj = _resolve(name) if name else None
        found = name != ""
    except Exception:
        obj, found = None, False
    if not found:
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}
    lines = [f"Type:      {type(obj).__name__}"]
    if callable(obj):
        try:
            lines.append(f"Signature: {name.rsplit('.', 1)[-1]}{inspect.signature(obj)}")
        except (TypeError, ValueError):
            pass
    else:
        text = repr(obj)
        lines.append("Value:     " + (text if len(text) < 200 else text[:200] + "…"))
    doc = inspect.getdoc(obj)
    if doc:
        lines.append("Docstring:\n" + doc)
    if detail_level and (callable(obj) or inspect.ismodule(obj)):
        try:
            lines.append("Source:\n" + inspect.getsource(obj))
        except (OSError, TypeError):
            pass
    return {"status": "ok", "found": True, "data": {"text/plain": "\n".join(lines)},
            "metadata": {}}


def is_complete(code):
    source = _magics.transform(code)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = codeop.compile_command(source, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return {"status": "invalid"}
    if compiled is not None:
        # A block (`for …:` + body) is complete only after an empty line, as at a prompt.
        last = source.rstrip("\n").rsplit("\n", 1)[-1]
        if "\n" in source.strip("\n") and last.startswith((" ", "\t")) and not source.endswith("\n\n"):
            return {"status": "incomplete", "indent": last[: len(last) - len(last.lstrip())]}
        return {"status": "complete"}
    last = source.rstrip("\n").rsplit("\n", 1)[-1]
    indent = last[: len(last) - len(last.lstrip())]
    if last.rstrip().endswith(":"):
        indent += "    "
    return {"status": "incomplete", "indent": indent}
