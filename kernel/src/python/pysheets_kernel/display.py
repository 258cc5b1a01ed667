"""Rich display without IPython: MIME bundles from the `_repr_*_` protocol, and display ids."""

from pysheets_kernel import _native
from pysheets_kernel.lazy import LazyModule

base64 = LazyModule("base64")
json = LazyModule("json")

# Checked in this order; the first ones a frontend can show best.
_REPR_METHODS = [
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
]
# Types with nothing but a repr: skip the protocol lookups (they dominate re-run batches).
_SIMPLE = {int, float, complex, str, bytes, bool, type(None)}
_BINARY = {"image/png", "image/jpeg", "application/pdf"}


def _new_id():
    import uuid

    return uuid.uuid4().hex


def _call(fn, *args, **kwargs):
    """`(fn(...), None)`, or `(None, exc)` when it raised anything but KeyboardInterrupt (a
    `SystemExit` in a `__repr__` is the value's failure, not a request to stop the kernel)."""
    try:
        return fn(*args, **kwargs), None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return None, exc


def _answers_anything(obj):
    """Whether `obj` makes up attributes (a proxy whose `__getattr__` answers any name), found
    as IPython finds it, by asking for one nobody defines; or raises when asked. Its formatter
    methods are then not looked for."""
    try:
        return getattr(obj, "_ipython_canary_method_should_not_exist_", None) is not None
    except KeyboardInterrupt:
        raise
    except BaseException:
        return True


def _method(obj, name):
    """`obj`'s formatter method `name`, or None (also when looking it up raises)."""
    try:
        method = getattr(obj, name, None)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return None
    return method if callable(method) else None


def _plain(obj):
    """(repr(obj), None), or a stand-in and the exception when the repr fails."""
    try:
        return repr(obj), None  # repr() itself refuses a __repr__ that returns no str
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return f"<{type(obj).__name__} object (repr failed: {_exc_line(exc)})>", exc


def exception_text(exc):
    """str(exc), or what the traceback module shows when that raises or gives no str."""
    text, failed = _call(str, exc)
    if failed is not None or not isinstance(text, str):
        return "<exception str() failed>"
    return text


def _exc_line(exc):
    text = exception_text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def clean_text(text):
    """`text` without lone surrogates (`'\\ud800'`, from a bad decode), which UTF-8, and so the
    wire, cannot carry: each shows as its escape, `\\ud800`."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


# A frontend must be able to read what a bundle holds: JSON nested deeper than this is refused
# (the kernel's JSON reader stops at 128 levels, and messages wrap values in a few).
MAX_JSON_DEPTH = 100
# A structure that shares its parts (`a = [a, a]` a hundred times) is small in memory and
# astronomically big as JSON: past this many lists and dicts it is refused too.
MAX_JSON_CONTAINERS = 2_000_000
_CONTAINERS = (dict, list, tuple)
_KEYS = (str, int, float, bool, type(None))  # what json.dumps takes as a key
_LEAVE = object()  # on json_problem's stack: the container below it is left


def _leaf_problem(obj):
    """Why a value that is not a list, tuple or dict cannot be sent as JSON, or None."""
    t = type(obj)
    if t is str or isinstance(obj, str):
        return None if clean_text(obj) is obj else "it holds text with a lone surrogate"
    if t is bool or obj is None:
        return None
    if isinstance(obj, int):
        # Python writes no int of more than 4300 digits as text (sys.set_int_max_str_digits).
        return None if obj.bit_length() < 14_000 else "it holds an int too long to write"
    if isinstance(obj, float):
        # json.dumps writes NaN, which no JSON reader (the kernel's, a browser's) accepts.
        return None if obj - obj == 0 else f"it holds {obj!r}, which JSON cannot"
    _, exc = _call(str, obj)  # anything else is sent as its str()
    return f"str() of a {t.__name__} in it failed: {_exc_line(exc)}" if exc else None


def json_problem(value):
    """Why `value` cannot be sent as JSON (it contains itself, it is nested too deep or too
    big, it holds what JSON cannot carry), or None. Iterative: a deep value must not exhaust
    the stack that checks it."""
    if not isinstance(value, _CONTAINERS):
        return _leaf_problem(value)
    # (container, depth) to enter, or (_LEAVE, id) to leave: the ids on the path find cycles.
    todo, path, containers = [(value, 1)], set(), 0
    while todo:
        obj, depth = todo.pop()
        if obj is _LEAVE:
            path.discard(depth)  # (here the id of the container left)
            continue
        containers += 1
        if containers > MAX_JSON_CONTAINERS:
            return f"it has more than {MAX_JSON_CONTAINERS:,} lists and dicts"
        if depth > MAX_JSON_DEPTH:
            return f"it is nested deeper than {MAX_JSON_DEPTH} levels"
        if id(obj) in path:
            return "it contains itself"
        if isinstance(obj, dict):
            for key in obj:
                why = _leaf_problem(key) if isinstance(key, _KEYS) else \
                    f"it has a key of type {type(key).__name__}, not str"
                if why:
                    return why
            children = obj.values()
        else:
            children = obj
        path.add(id(obj))
        todo.append((_LEAVE, id(obj)))
        for child in children:
            if isinstance(child, _CONTAINERS):
                todo.append((child, depth + 1))
            else:
                why = _leaf_problem(child)
                if why:
                    return why
    return None


def _is_json_mime(mime):
    """Whether a MIME type's value is JSON rather than text."""
    return mime == "application/json" or mime.endswith("+json")


def _checked(obj, data, metadata, report, plain=True):
    """The bundle with every value a frontend can show: a value of the wrong type or JSON that
    cannot be sent is left out (with `report`ed error), text without lone surrogates; with
    `plain`, `text/plain` is `repr(obj)` unless the bundle has it."""
    odd = None  # the common bundle is all text: one pass, no copies
    for mime, value in data.items():
        if type(value) is str and type(mime) is str:
            if not value.isascii():
                data[mime] = clean_text(value)  # (a new value, not a new key: allowed here)
        else:
            odd = (odd or []) + [mime]
    for mime in odd or ():
        value = data.pop(mime)
        if not isinstance(mime, str):
            problem = f"a MIME type must be a str, not {type(mime).__name__}"
        elif isinstance(value, str):
            data[mime] = clean_text(str(value))
            continue
        elif _is_json_mime(mime):
            why = json_problem(value)
            if not why:
                data[mime] = value
                continue
            problem = f"{mime} cannot be sent as JSON: {why}"
        else:
            problem = f"{mime} data must be a str, not {type(value).__name__}"
        report(mime, ValueError(problem))
    if metadata:
        why = json_problem(metadata)
        if why:
            report("metadata", ValueError(f"the display metadata cannot be sent as JSON: {why}"))
            metadata = {}
    if plain and "text/plain" not in data:
        text, exc = _plain(obj)
        if exc is not None:
            report("text/plain", exc)
        data["text/plain"] = text if text.isascii() else clean_text(text)
    return data, metadata


def show_formatter_error(mime, exc):
    """What IPython does when a formatter fails: the formatter's traceback as an error output
    (the request itself still succeeds, and the value's other representations still show)."""
    from pysheets_kernel import execution

    err = execution.format_exception(exc)
    err["traceback"].insert(0, f"Showing the value as {mime} failed:")
    _send("error", err)


def _ignore(mime, exc):
    pass


def _figure_png(obj):
    """A matplotlib Figure as PNG bytes, or None for anything else."""
    mod = type(obj).__module__ or ""
    if not mod.startswith("matplotlib.figure"):
        return None
    import io

    buf = io.BytesIO()
    obj.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _split(result):
    if isinstance(result, tuple) and len(result) == 2:
        return result
    return result, None


def format_bundle(obj, include=None, exclude=None, report=show_formatter_error):
    """Returns (data, metadata) for `obj`; `text/plain` is always present. A formatter that
    fails (raises, or returns what cannot be shown) is `report(mime, exc)`ed and left out."""
    if type(obj) in _SIMPLE and not include and not exclude:
        try:
            return {"text/plain": clean_text(repr(obj))}, {}
        except ValueError:  # an int too long to convert to text: said below
            pass
    report = report or _ignore
    data, metadata = {}, {}
    if not isinstance(obj, type) and not _answers_anything(obj):
        mimebundle = _method(obj, "_repr_mimebundle_")
        if mimebundle is not None:  # (rare: the lookups below are inline)
            result, exc = _call(mimebundle, include=include, exclude=exclude)
            got, md = _split(result) if exc is None else (None, None)
            if exc is not None:
                report("_repr_mimebundle_", exc)
            elif got is not None and not isinstance(got, dict):
                report("_repr_mimebundle_", TypeError(
                    f"_repr_mimebundle_ returned {type(got).__name__}, not a dict"))
            elif got:
                data.update(got)
            if isinstance(md, dict):
                metadata.update(md)
        for mime, name in _REPR_METHODS:
            if mime in data:
                continue
            try:  # (inline, not _method: this loop runs for every value of a re-run batch)
                method = getattr(obj, name, None)
            except KeyboardInterrupt:
                raise
            except BaseException:  # a lookup that raises means "no such method"
                continue
            if not callable(method):
                continue
            result, exc = _call(method)
            if exc is None and mime == "application/json" and isinstance(result, str):
                result, exc = _call(json.loads, result)
            if exc is not None:
                report(mime, exc)
                continue
            value, md = _split(result)
            if value is None:
                continue
            if mime in _BINARY and isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode("ascii")
            data[mime] = value
            if md:
                metadata[mime] = md
        if not data and (type(obj).__module__ or "").startswith("matplotlib.figure"):
            png, exc = _call(_figure_png, obj)
            if exc is not None:
                report("image/png", exc)
            elif png is not None:
                data["image/png"] = base64.b64encode(png).decode("ascii")
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return _checked(obj, data, metadata, report)


def _send(msg_type, content):
    _native.publish(msg_type, json.dumps(content, default=str))


def publish_display_data(data, metadata=None, transient=None, update=False):
    content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
    _send("update_display_data" if update else "display_data", content)


def display(*objs, include=None, exclude=None, metadata=None, transient=None,
            display_id=None, raw=False, clear=False, update=False, **kwargs):
    """Shows each object in the cell's output; with `display_id`, returns a handle to update it."""
    if clear:
        clear_output(wait=True)
    if display_id is True:
        display_id = _new_id()
    transient = dict(transient or {})
    if display_id:
        transient["display_id"] = display_id
    for obj in objs:
        if raw:
            if not isinstance(obj, dict):
                raise TypeError(f"display(raw=True) takes MIME bundles (dicts), not "
                                f"{type(obj).__name__}")
            data, md = _checked(None, dict(obj), {}, show_formatter_error, plain=False)
        else:
            data, md = format_bundle(obj, include, exclude)
        if metadata:
            md.update(metadata)
        publish_display_data(data, md, transient, update=update)
    if display_id:
        return DisplayHandle(display_id)
    return None


def update_display(obj, *, display_id, **kwargs):
    kwargs.pop("update", None)
    display(obj, display_id=display_id, update=True, **kwargs)


def clear_output(wait=False):
    _native.flush_streams()
    _send("clear_output", {"wait": bool(wait)})


class DisplayHandle:
    """What `display(..., display_id=...)` returns: `update` and `display` it again."""

    def __init__(self, display_id=None):
        self.display_id = display_id or _new_id()

    def __repr__(self):
        return f"<DisplayHandle display_id={self.display_id}>"

    def display(self, obj, **kwargs):
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        update_display(obj, display_id=self.display_id, **kwargs)
