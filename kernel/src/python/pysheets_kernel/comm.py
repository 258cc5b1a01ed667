"""Comms, the kernel side: open from Python, or answer a frontend's comm_open by target name.

    import pysheets_kernel.comm as comm
    comm.register_target("echo", lambda c, msg: c.on_msg(lambda m: c.send(m["content"]["data"])))
"""

import json
import uuid

from pysheets_kernel import _native

targets = {}
comms = {}


def _send(msg_type, content, metadata=None, buffers=None):
    """Binary buffers (ipywidgets' bytes and arrays) travel as extra frames, not in the JSON."""
    if metadata or buffers:
        _native.publish_message(msg_type, json.dumps(content, default=str),
                                json.dumps(metadata or {}, default=str),
                                [bytes(b) for b in buffers or ()])
    else:
        _native.publish(msg_type, json.dumps(content, default=str))


class Comm:
    def __init__(self, target_name="", data=None, metadata=None, comm_id=None, primary=True,
                 **kwargs):
        self.comm_id = comm_id or uuid.uuid4().hex
        self.target_name = target_name
        self._msg_callback = None
        self._close_callback = None
        self._closed = False
        comms[self.comm_id] = self
        if primary:
            _send("comm_open", {"comm_id": self.comm_id, "target_name": target_name,
                                "data": data or {}}, metadata, kwargs.get("buffers"))

    def send(self, data=None, metadata=None, buffers=None):
        if self._closed:
            raise RuntimeError("this comm is closed")
        _send("comm_msg", {"comm_id": self.comm_id, "data": data or {}}, metadata, buffers)

    def close(self, data=None, metadata=None, buffers=None, deleting=False):
        if self._closed:
            return
        self._closed = True
        comms.pop(self.comm_id, None)
        if not deleting:
            _send("comm_close", {"comm_id": self.comm_id, "data": data or {}}, metadata, buffers)

    def on_msg(self, callback):
        self._msg_callback = callback

    def on_close(self, callback):
        self._close_callback = callback

    def handle_msg(self, msg):
        if self._msg_callback is not None:
            self._msg_callback(msg)

    def handle_close(self, msg):
        self._closed = True
        comms.pop(self.comm_id, None)
        if self._close_callback is not None:
            self._close_callback(msg)


class CommManager:
    """What the `comm` package's `get_comm_manager()` returns here (ipywidgets uses it)."""

    def register_target(self, name, callback):
        register_target(name, callback)

    def unregister_target(self, name, callback=None):
        unregister_target(name)

    def register_comm(self, comm):
        comms[comm.comm_id] = comm
        return comm.comm_id

    def unregister_comm(self, comm):
        comms.pop(comm.comm_id, None)

    def get_comm(self, comm_id):
        return comms.get(comm_id)

    @property
    def targets(self):
        return targets

    @property
    def comms(self):
        return comms


manager = CommManager()


def adopt_comm_package(module):
    """Makes the `comm` package (used by ipywidgets) create comms through this kernel."""
    module.create_comm = create_comm
    module.get_comm_manager = lambda: manager


def register_target(name, callback):
    """`callback(comm, open_msg)` runs when a frontend opens a comm with this target."""
    targets[name] = callback


def unregister_target(name):
    targets.pop(name, None)


def create_comm(*args, **kwargs):
    return Comm(*args, **kwargs)


def handle_open(msg):
    content = msg["content"]
    comm_id, target = content.get("comm_id"), content.get("target_name")
    callback = targets.get(target)
    if callback is None or not comm_id:
        # Unknown target: tell the frontend the comm is gone, as the protocol asks.
        _send("comm_close", {"comm_id": comm_id or "", "data": {}})
        return
    comm = Comm(target_name=target, comm_id=comm_id, primary=False)
    callback(comm, msg)


def handle_msg(msg):
    comm = comms.get(msg["content"].get("comm_id"))
    if comm is not None:
        comm.handle_msg(msg)


def handle_close(msg):
    comm = comms.get(msg["content"].get("comm_id"))
    if comm is not None:
        comm.handle_close(msg)


def info(target_name=None):
    return {cid: {"target_name": c.target_name} for cid, c in comms.items()
            if not target_name or c.target_name == target_name}
