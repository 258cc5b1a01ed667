"""Rich display without IPython: MIME bundles from the `_repr_*_` protocol, and display ids."""

import _pysheets_native as _native
from pysheets import LazyModule

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


def _plain(obj):
    try:
        return repr(obj)
    except Exception as e:  # a broken __repr__ must not break the cell
        return f"<{type(obj).__name__} object (repr failed: {e!r})>"


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


def format_bundle(obj, include=None, exclude=None):
    """Returns (data, metadata) for `obj`; `text/plain` is always present."""
    if type(obj) in _SIMPLE and not include and not exclude:
        return {"text/plain": repr(obj)}, {}
    data, metadata = {}, {}
    if not isinstance(obj, type):
        mimebundle = getattr(obj, "_repr_mimebundle_", None)
        if callable(mimebundle):
            try:
                got, md = _split(mimebundle(include=include, exclude=exclude))
            except Exception:
                got, md = None, None
            if got:
                data.update(got)
            if md:
                metadata.update(md)
        for mime, name in _REPR_METHODS:
            if mime in data:
                continue
            method = getattr(obj, name, None)
            if not callable(method):
                continue
            try:
                value, md = _split(method())
            except Exception:
                continue
            if value is None:
                continue
            if mime in _BINARY and isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode("ascii")
            elif mime == "application/json" and isinstance(value, str):
                value = json.loads(value)
            data[mime] = value
            if md:
                metadata[mime] = md
        if not data:
            png = _figure_png(obj)
            if png is not None:
                data["image/png"] = base64.b64encode(png).decode("ascii")
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    data.setdefault("text/plain", _plain(obj))
    return data, metadata


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
            data, md = obj, {}
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
