"""A big re-run through jupyter_server, the way JupyterLab and Notebook 7 reach the kernel.

jupyter_server drops IOPub messages past its rate limit (1000 a second over 3 s, by default)
and says "IOPub message rate exceeded" in the cell that ran; the frontend then keeps the old
values of the outputs it never got. A re-run of 4,000 cells publishes 4,000
`update_display_data` in one request: this test reads them through the server's websocket (as a
browser does, without one) and checks that every output of the chain gets its new value and
the server dropped nothing. Without the kernel's IOPub pace (kernel/src/protocol/iopub_pace.rs)
about a quarter of them were lost. The pace costs time, not correctness: the kernel's own
default, 500 a second, is what a frontend waits.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from lab_server import jupyter_lab

pytestmark = pytest.mark.pysheets_only

CHAIN = 4000


def _msg(msg_type: str, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "test",
                   "session": "rate-test", "version": "5.3", "date": "2026-01-01T00:00:00Z"},
        "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": "shell",
        "buffers": [],
    }


async def _rerun(url: str, kernel_id: str) -> dict[str, Any]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(f"ws{url[4:]}api/kernels/{kernel_id}/channels?session_id=rate-test")

    def request(code: str, cell_id: str) -> dict:
        return _msg("execute_request", {"code": code, "silent": False, "store_history": False,
                                        "user_expressions": {}, "allow_stdin": False,
                                        "stop_on_error": False}, {"cellId": cell_id})

    async def collect(last: dict) -> tuple[list[dict], list[dict]]:
        """Replies and the last request's IOPub, until that request's idle."""
        replies, iopub, idle = [], [], False
        while not idle:
            raw = await asyncio.wait_for(ws.read_message(), timeout=120)
            assert raw is not None, "the websocket closed"
            m = json.loads(raw)
            if m["channel"] == "shell":
                replies.append(m)
            elif m.get("parent_header", {}).get("msg_id") == last["header"]["msg_id"]:
                iopub.append(m)
                idle = m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
        return replies, iopub

    try:
        # The chain, sent at once (each request ends in an idle, which resets the server's
        # count: filling is not what is tested).
        fill = [request("# @A1\n1", "a1")]
        fill += [request(f"# @A{r}\nA{r - 1} + 1", f"a{r}") for r in range(2, CHAIN + 1)]
        for msg in fill:
            await ws.write_message(json.dumps(msg))
        replies, _ = await collect(fill[-1])
        assert len(replies) == CHAIN and all(r["content"]["status"] == "ok" for r in replies)
        # One request re-runs all of it.
        edit = request("# @A1\n5", "a1")
        await ws.write_message(json.dumps(edit))
        replies, iopub = await collect(edit)
        assert replies and replies[-1]["content"]["status"] == "ok", replies
        return {"iopub": iopub}
    finally:
        ws.close()


@pytest.mark.timeout(300)
def test_a_big_rerun_reaches_a_frontend_through_jupyter_server(tmp_path: Path) -> None:
    with jupyter_lab(tmp_path, {}) as (url, _log):
        req = urllib.request.Request(f"{url}api/kernels", data=json.dumps({"name": "pysheets"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            kernel_id = json.loads(r.read())["id"]
        got = asyncio.run(_rerun(url, kernel_id))
    iopub = got["iopub"]
    dropped = [m for m in iopub if m["msg_type"] == "stream" and "rate exceeded" in m["content"]["text"]]
    assert not dropped, dropped[0]["content"]["text"]
    updates = {(m["content"].get("transient") or {}).get("display_id"): m["content"]["data"]["text/plain"]
               for m in iopub if m["msg_type"] == "update_display_data"}
    wrong = [r for r in range(2, CHAIN + 1) if updates.get(f"pysheets-A{r}") != str(r + 4)]
    assert not wrong, f"{len(wrong)} of {CHAIN - 1} outputs never got their new value (A{wrong[0]}, …)"
