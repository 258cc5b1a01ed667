"""Figures for issue 11's sheet shapes: `%sheet` after a far label, a whole-sheet range, a long
cycle. Starts the `pysheets` kernel of the current JUPYTER_PATH through jupyter_client and
prints wall times, the largest IOPub message and the kernel's peak RSS (VmHWM).

    JUPYTER_PATH=… .venv/bin/python bench/shapes_figures.py [--cycle 20000]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from jupyter_client.manager import start_new_kernel


def execute(kc, code, cell_id=None, timeout=600):
    """Runs code (as a notebook cell when cell_id is given); (seconds, reply, largest iopub
    message in bytes)."""
    md = {"cellId": cell_id} if cell_id else {}
    msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                              "user_expressions": {}, "allow_stdin": False,
                                              "stop_on_error": False}, metadata=md)
    t0 = time.perf_counter()
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    largest = 0
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        largest = max(largest, len(json.dumps(m["content"])))
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return time.perf_counter() - t0, reply, largest


def peak_rss(km):
    with open(f"/proc/{km.provisioner.process.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def fresh():
    return start_new_kernel(kernel_name="pysheets")


def far_label(address):
    km, kc = fresh()
    try:
        execute(kc, "# @A1\n1", "a1")
        execute(kc, f"# @{address}\nA1 * 2", "far")
        secs, reply, largest = execute(kc, "%sheet")
        print(f"%sheet after # @{address}: {secs * 1000:.1f} ms, largest message {largest:,} B, "
              f"status {reply['content']['status']}, kernel peak RSS {peak_rss(km) / 1e6:.0f} MB")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def whole_sheet_sum():
    km, kc = fresh()
    try:
        for i, addr in enumerate(["A2", "C3", "ZZ50000", "XFD1048576"]):
            execute(kc, f"# @{addr}\n{i + 1}", f"c{i}")
        secs, reply, largest = execute(kc, "# @A1\nsum(A2:XFD1048576)", "sum")
        print(f"sum(A2:XFD1048576) at A1: {secs * 1000:.1f} ms, status "
              f"{reply['content']['status']}, largest message {largest:,} B")
        secs, reply, _ = execute(kc, "sum(A1:XFD1048576)")
        print(f"sum(A1:XFD1048576) (console, lands inside it): {secs * 1000:.1f} ms, "
              f"{reply['content'].get('ename', reply['content']['status'])}, "
              f"kernel peak RSS {peak_rss(km) / 1e6:.0f} MB")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def long_cycle(n):
    km, kc = fresh()
    try:
        t0 = time.perf_counter()
        for row in range(n, 1, -1):
            nxt = 1 if row == n else row + 1
            execute(kc, f"# @A{row}\n(A{nxt} or 0) + 1", f"c{row}")
        build = time.perf_counter() - t0
        secs, reply, largest = execute(kc, "# @A1\n(A2 or 0) + 1", "c1")
        print(f"{n}-cell cycle: building {build:.1f} s; closing it {secs:.2f} s, "
              f"{reply['content'].get('ename')}, reply {len(json.dumps(reply['content'])):,} B "
              f"+ metadata {len(json.dumps(reply['metadata'])):,} B (it lists the {n} cells), "
              f"largest IOPub message {largest:,} B, "
              f"kernel peak RSS {peak_rss(km) / 1e6:.0f} MB")
        secs, reply, largest = execute(kc, "# @A1\n0", "c1")
        print(f"breaking it: {secs:.2f} s, status {reply['content']['status']}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--cycle", type=int, default=20_000)
    args = p.parse_args()
    far_label("ZZ50000")
    far_label("XFD1048576")
    whole_sheet_sum()
    long_cycle(args.cycle)
    print(f"run {uuid.uuid4().hex[:6]} done")
