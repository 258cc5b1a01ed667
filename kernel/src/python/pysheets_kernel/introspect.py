"""Completion, inspection and is_complete, on the live namespace, without IPython or jedi."""

import builtins
import codeop
import inspect
import io
import keyword
import pkgutil
import re
import sys
import tokenize
import warnings

from pysheets_kernel import magics as _magics
from pysheets_kernel.execution import user_ns

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


def _indent_of(line):
    """The indentation of `line` in columns, a tab counting four (as IPython counts it)."""
    text = line[: len(line) - len(line.lstrip(" \t"))]
    return len(text.replace("\t", "    "))


def _incomplete(indent):
    return {"status": "incomplete", "indent": " " * indent}


def is_complete(code):
    """Whether a frontend should run `code` or continue it on a new line, as IPython answers
    (`TransformerManager.check_complete`, which `jupyter console` relies on): open brackets and
    strings, a trailing backslash and a block opener continue, with the indentation the next
    line needs; an indented block ends with an empty line."""
    tail = code[len(code.rstrip()):]
    ends_with_newline = "\n" in tail
    text = code if ends_with_newline else code + "\n"
    lines = text.splitlines(keepends=True)
    filled = [line for line in lines if line.strip()]
    if not filled:
        return {"status": "complete"}
    last_indent = _indent_of(lines[-1])
    if filled[-1].rstrip("\r\n").endswith("\\"):
        return _incomplete(last_indent)
    if lines[0].startswith("%%"):
        # A cell magic takes every line up to an empty one.
        return {"status": "complete"} if not lines[-1].strip() else _incomplete(last_indent)
    source = _magics.transform(text)
    tokens, open_ended = [], False
    try:
        tokens.extend(tokenize.generate_tokens(io.StringIO(source).readline))
    except tokenize.TokenError:  # the code ends inside brackets or a triple-quoted string
        open_ended = True
    except (SyntaxError, ValueError):  # an unindent that matches no block, say
        return {"status": "invalid"}
    ignored = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
               tokenize.DEDENT, tokenize.ENDMARKER}
    significant = [t for t in tokens if t.type not in ignored]
    if len(lines) == 1 and _closes_unopened(significant):
        return {"status": "invalid"}  # `print(1))`: no line can follow that makes it right
    if open_ended:
        return _incomplete(last_indent)
    if significant:
        last = significant[-1]
        # Only a comment may follow a block opener on its own line: `if x:` wants a body.
        after = [t for t in tokens if t.start > last.start and t.type not in
                 (tokenize.DEDENT, tokenize.ENDMARKER)]
        if last.type == tokenize.OP and last.string == ":" and \
                all(t.start[0] == last.start[0] for t in after):
            return _incomplete(_statement_start(tokens, last).start[1] + 4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            compiled = codeop.compile_command(source, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError, TypeError, MemoryError, SyntaxWarning):
        return {"status": "invalid"}
    if compiled is None:
        return _incomplete(last_indent)
    # Code that ends inside an indented block goes on until a line is left empty (the code
    # then ends with a newline), as at a prompt.
    if len(tokens) >= 2 and tokens[-2].type == tokenize.DEDENT and not ends_with_newline:
        return _incomplete(last_indent)
    return {"status": "complete"}


def _closes_unopened(tokens):
    depth = 0
    for t in tokens:
        if t.type == tokenize.OP and t.string in ("(", "[", "{"):
            depth += 1
        elif t.type == tokenize.OP and t.string in (")", "]", "}"):
            depth -= 1
            if depth < 0:
                return True
    return False


def _statement_start(tokens, token):
    """The first token of the logical line that holds `token`."""
    start = None
    for t in tokens:
        if t.start > token.start:
            break
        if t.type == tokenize.NEWLINE:
            start = None
        elif start is None and t.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.NL,
                                              tokenize.COMMENT):
            start = t
    return start or token
