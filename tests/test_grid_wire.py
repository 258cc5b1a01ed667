"""What the kernel sends the grid and the notebook in big and long recomputes (issue 13), through
jupyter_client on a fresh kernel:

- the `pysheets` comm's snapshot is compact (no code, defaults left out) and a `cell` request
  gives a cell's code;
- with the grid's comm open, the grid's `update` comes before the re-run cells'
  `update_display_data` (all of them still sent, for frontends without the grid);
- a batch past 1 s reports progress on the comm and as a transient line in the cell's output,
  which is blanked when the batch ends, also when it is interrupted (the rest goes stale);
- number formats (`# @B4 savings rate :.1%`) shape the output's text, `%sheet` and the grid.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import assert_ok, collect_iopub, get_reply, open_grid_comm, read_iopub
from test_sheet import by_address, cell, display_id, run, send_execute, sheet

pytestmark = pytest.mark.pysheets_only


@pytest.fixture
def kc(fresh_kernel: tuple[Any, Any]) -> Any:
    return fresh_kernel[1]


def open_grid(kc: Any) -> tuple[str, dict[str, Any]]:
    """Opens a `pysheets` comm as the extension does; returns its id and the snapshot."""
    comm_id = open_grid_comm(kc)
    msgs = read_iopub(kc, until=lambda m: _data(m).get("type") == "snapshot",
                      keep=lambda m: m["msg_type"] == "comm_msg", timeout=10)
    snaps = [m for m in msgs if _data(m).get("type") == "snapshot"]
    assert snaps, f"no snapshot: {msgs}"
    return comm_id, snaps[-1]


def _data(m: dict[str, Any]) -> dict[str, Any]:
    return m["content"].get("data") or {} if m["msg_type"] == "comm_msg" else {}


def chain(kc: Any, n: int, step: str = "") -> None:
    """A1 = 1 and A2 … An each the one above plus one (after `step`, if any)."""
    cell(kc, "# @A1\n1", "a1")
    for r in range(2, n + 1):
        cell(kc, f"# @A{r}\n{step}A{r - 1} + 1", f"a{r}")


def test_the_snapshot_is_compact_and_a_cell_request_gives_the_code(kc: Any) -> None:
    cell(kc, "# @A1 rent\n1200", "a1")
    cell(kc, "# @B1\nA1 * 2", "b1")
    run(kc, "# @C1\n1/0", "c1")
    cell(kc, "# @E1\n'123'", "e1")
    cell(kc, "# @E2\nfloat('inf')", "e2")
    for i in range(300):
        reply, _ = run(kc, f"# @D{i + 1}\n{i * 7}")  # console cells: no cellId
        assert_ok(reply)
    comm_id, snap = open_grid(kc)
    cells = {c["address"]: c for c in snap["content"]["data"]["sheet"]["cells"]}
    assert all("edited" not in c for c in cells.values()), cells["A1"]
    assert cells["A1"] == {"address": "A1", "title": "rent", "cellId": "a1", "value": "1200"}, \
        cells["A1"]
    assert cells["B1"] == {"address": "B1", "cellId": "b1", "value": "2400", "reads": ["A1"]}, \
        cells["B1"]
    assert cells["C1"]["state"] == "error" and "ZeroDivisionError" in cells["C1"]["error"]
    assert all("code" not in c for c in cells.values())
    # `number` only where the text would mislead the grid's alignment.
    assert (cells["E1"]["value"], cells["E1"]["number"]) == ("123", False), cells["E1"]
    assert (cells["E2"]["value"], cells["E2"]["number"]) == ("inf", True), cells["E2"]
    # A console cell of a big sheet: its address and value, about 40 bytes on the wire.
    constants = [json.dumps(cells[f"D{i + 1}"], separators=(",", ":")) for i in range(300)]
    per_cell = sum(len(c) + 1 for c in constants) / len(constants)
    assert per_cell <= 40, (per_cell, constants[:3])
    # The formula bar asks for the code of the selected cell.
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id,
                                                      "data": {"type": "cell", "address": "B1"}}))
    got = read_iopub(kc, until=lambda m: _data(m).get("type") == "cell",
                     keep=lambda m: _data(m).get("type") == "cell", timeout=10)
    assert got, "no answer to a cell request"
    full = got[0]["content"]["data"]["cell"]
    assert full["address"] == "B1" and full["code"] == "# @B1\nA1 * 2", full
    assert full["edited"]["by"], full
    # An empty address is a deleted cell, not an error.
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id,
                                                      "data": {"type": "cell", "address": "Z99"}}))
    got = read_iopub(kc, until=lambda m: _data(m).get("type") == "cell",
                     keep=lambda m: _data(m).get("type") == "cell", timeout=10)
    assert got[0]["content"]["data"]["cell"] == {"address": "Z99", "state": "deleted"}


def test_the_grid_hears_of_a_rerun_before_the_notebook_outputs(kc: Any) -> None:
    n = 60
    chain(kc, n)
    comm_id, _ = open_grid(kc)
    msg_id = send_execute(kc, "# @A1\n5", "a1")
    assert_ok(get_reply(kc, msg_id))
    iopub = collect_iopub(kc, msg_id)
    kinds = [(m["msg_type"], display_id(m) or _data(m).get("type")) for m in iopub]
    grid = [i for i, m in enumerate(iopub) if _data(m).get("type") == "update"]
    outs = [i for i, m in enumerate(iopub) if m["msg_type"] == "update_display_data"]
    assert len(grid) == 1 and len(outs) == n - 1, kinds
    assert grid[0] < min(outs), f"the grid's update came after an output update: {kinds}"
    last = [m for m in iopub if display_id(m) == f"pysheets-A{n}"]
    assert last[-1]["content"]["data"]["text/plain"] == str(n + 4)
    update = iopub[grid[0]]["content"]["data"]
    assert [c["address"] for c in update["cells"]] == ["A1"], update["cells"]
    assert update["values"] == {f"A{r}": str(r + 4) for r in range(2, n + 1)}


def test_without_the_grid_outputs_still_come_one_per_cell(kc: Any) -> None:
    chain(kc, 20)
    reply, iopub = run(kc, "# @A1\n5", "a1")
    assert_ok(reply)
    ups = {display_id(m): m["content"]["data"]["text/plain"]
           for m in iopub if m["msg_type"] == "update_display_data"}
    assert ups == {f"pysheets-A{r}": str(r + 4) for r in range(2, 21)}, ups


def _progress_lines(iopub: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["msg_type"], m["content"]["data"]["text/plain"]) for m in iopub
            if (display_id(m) or "").startswith("pysheets:progress:")]


def test_a_long_batch_shows_progress_on_the_comm_and_in_the_cell(kc: Any) -> None:
    chain(kc, 8, step="__import__('time').sleep(0.3)\n")
    comm_id, _ = open_grid(kc)
    msg_id = send_execute(kc, "# @A1\n5", "a1")
    reply = get_reply(kc, msg_id, timeout=60)
    assert_ok(reply)
    iopub = collect_iopub(kc, msg_id)
    progress = [_data(m) for m in iopub if _data(m).get("type") == "progress"]
    assert progress, "no progress on the comm for a 2 s batch"
    running = [p for p in progress if p["running"]]
    assert running and all(p["total"] == 8 and 0 < p["done"] < 8 for p in running), progress
    assert progress[-1]["running"] is None, progress
    lines = _progress_lines(iopub)
    assert lines and lines[0][0] == "display_data", lines
    assert "of 8 cells done, running A" in lines[0][1], lines
    assert lines[-1] == ("update_display_data", ""), lines
    # The line is the edited cell's, after its own value.
    own = [i for i, m in enumerate(iopub) if display_id(m) == "pysheets-A1"]
    first_line = next(i for i, m in enumerate(iopub)
                      if (display_id(m) or "").startswith("pysheets:progress:"))
    assert own and own[0] < first_line
    # A fast batch shows none.
    reply, iopub = run(kc, "# @A8\n0", "a8")
    assert_ok(reply)
    assert not _progress_lines(iopub)


def test_an_interrupted_batch_ends_its_progress_and_leaves_the_rest_stale(
        fresh_kernel: tuple[Any, Any]) -> None:
    km, kc = fresh_kernel
    chain(kc, 10, step="__import__('time').sleep(0.4)\n")
    msg_id = send_execute(kc, "# @A1\n5", "a1")
    time.sleep(2.2)
    km.interrupt_kernel()
    reply = get_reply(kc, msg_id, timeout=60)
    iopub = collect_iopub(kc, msg_id)
    lines = _progress_lines(iopub)
    assert lines and lines[-1] == ("update_display_data", ""), lines
    stale = reply["metadata"]["pysheets"]["stale"]
    assert "A10" in stale, reply["metadata"]
    updates = {display_id(m): m["content"]["data"].get("text/plain", "")
               for m in iopub if m["msg_type"] == "update_display_data"}
    assert updates.get("pysheets-A10", "").startswith("stale"), updates


def test_number_formats_shape_the_output_the_sheet_and_the_grid(kc: Any) -> None:
    _, iopub = cell(kc, "# @B4 savings rate :.1%\n0.25", "b4")
    texts = [m["content"]["data"]["text/plain"] for m in iopub if display_id(m) == "pysheets-B4"]
    assert texts == ["25.0%"], texts
    _, iopub = cell(kc, "# @B5 :,\n1234567", "b5")
    assert [m["content"]["data"]["text/plain"] for m in iopub
            if display_id(m) == "pysheets-B5"] == ["1,234,567"]
    # numpy numbers are numbers; text and booleans are left alone; a format that does not
    # fit the number shows it as usual.
    cell(kc, "# @B6 :.2f\nimport numpy as np\nnp.float64(2) / 3", "b6")
    cell(kc, "# @B7 :.1%\n'rent'", "b7")
    cell(kc, "# @B8 :.1%\nTrue", "b8")
    cell(kc, "# @B9 :d\n2.5", "b9")
    # A re-run keeps the format.
    _, iopub = cell(kc, "# @C4\n0.5", "c4")
    _, iopub = cell(kc, "# @B4 savings rate :.1%\nC4 / 4", "b4")
    reply, iopub = run(kc, "# @C4\n0.9", "c4")
    ups = {display_id(m): m["content"]["data"]["text/plain"]
           for m in iopub if m["msg_type"] == "update_display_data"}
    assert ups.get("pysheets-B4") == "22.5%", ups
    sj, bundle = sheet(kc)
    cells = by_address(sj)
    assert (cells["B4"]["value"], cells["B4"]["format"], cells["B4"]["title"]) == \
        ("22.5%", ".1%", "savings rate"), cells["B4"]
    assert cells["B6"]["value"] == "0.67" and cells["B6"]["number"] is True, cells["B6"]
    assert cells["B7"]["value"] == "rent" and "number" not in cells["B7"], cells["B7"]
    assert cells["B8"]["value"] == "True" and "number" not in cells["B8"], cells["B8"]
    assert cells["B9"]["value"] == "2.5", cells["B9"]
    # %sheet's table shows the formatted value too.
    assert "22.5%" in bundle["text/plain"], bundle["text/plain"]
    # The value itself is untouched: readers compute with the number.
    reply, _ = run(kc, "", silent=True, user_expressions={"v": "B4 * 2"})
    assert reply["content"]["user_expressions"]["v"]["data"]["text/plain"] == "0.45"


def test_a_cells_own_display_updates_are_not_held_back(kc: Any) -> None:
    """Only the re-run cells' values wait for the grid's update: a cell updating its own
    display (a progress readout, say) is seen live, in order with its prints."""
    chain(kc, 3)
    open_grid(kc)
    code = ("# @A1\nfrom IPython.display import display\nh = display('start', display_id=True)\n"
            "print('between')\nh.update('done')\n5")
    msg_id = send_execute(kc, code, "a1")
    assert_ok(get_reply(kc, msg_id))
    iopub = collect_iopub(kc, msg_id)
    kinds = [(m["msg_type"], display_id(m) or _data(m).get("type") or m["content"].get("name"))
             for m in iopub]
    user = [i for i, m in enumerate(iopub) if m["msg_type"] == "update_display_data"
            and not (display_id(m) or "").startswith("pysheets")]
    printed = [i for i, m in enumerate(iopub) if m["msg_type"] == "stream"]
    grid = [i for i, m in enumerate(iopub) if _data(m).get("type") == "update"]
    reruns = [i for i, m in enumerate(iopub) if display_id(m) in ("pysheets-A2", "pysheets-A3")]
    assert user and printed and grid and reruns, kinds
    assert printed[0] < user[0] < grid[0] < min(reruns), kinds
