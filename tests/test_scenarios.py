"""What-if tables and goal seek in a real kernel (`sheet.what_if`, `sheet.goal_seek`,
`%whatif`, `%goalseek`).

The budget example runs in a PySheets kernel as JupyterLab runs it (cellIds, the notebook's
order); a what-if table is then checked against the same scenarios done one at a time in that
kernel, by editing the inputs and reading the outputs; the live sheet must be as it was after
the table (values, namespace, no output updated). Goal seek's answer is checked by setting the
input to it. The Dask path runs on a `LocalCluster` on loopback.
"""

from __future__ import annotations

import ast
import itertools
import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import REPO, collect_iopub, get_reply, start_kernel, stop_kernel

pytestmark = pytest.mark.pysheets_only

TIMEOUT = 180
BUDGET = REPO / "examples" / "budget.ipynb"


def execute(kc: Any, code: str, cell_id: str | None = None, silent: bool = False,
            user_expressions: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    content = {"code": code, "silent": silent, "store_history": not silent,
               "user_expressions": user_expressions or {}, "allow_stdin": False,
               "stop_on_error": False}
    msg = kc.session.msg("execute_request", content,
                         metadata={"cellId": cell_id} if cell_id else {})
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    return get_reply(kc, msg_id, timeout=TIMEOUT), collect_iopub(kc, msg_id, timeout=TIMEOUT)


def value(kc: Any, expression: str) -> Any:
    """`expression` evaluated in the kernel's namespace, as JSON, without making a cell."""
    reply, _ = execute(kc, "", silent=True, user_expressions={
        "v": f"__import__('json').dumps({expression}, default=str)"})
    got = reply["content"]["user_expressions"]["v"]
    assert got["status"] == "ok", got
    return json.loads(ast.literal_eval(got["data"]["text/plain"]))


class Budget:
    """The budget notebook in a kernel: its cells by address, to edit them as a user does."""

    def __init__(self, kc: Any) -> None:
        self.kc = kc
        nb = json.loads(BUDGET.read_text())
        self.cells = {}
        ids = []
        for c in nb["cells"]:
            if c["cell_type"] == "code":
                code = "".join(c["source"])
                self.cells[code.split()[1][1:]] = (c["id"], code)
                ids.append(c["id"])
        comm_id = uuid.uuid4().hex
        kc.shell_channel.send(kc.session.msg(
            "comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}}))
        kc.shell_channel.send(kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"type": "order", "cells": ids}}))
        for cell_id, code in self.cells.values():
            reply, _ = execute(kc, code, cell_id)
            assert reply["content"]["status"] == "ok", reply["content"]

    def set(self, address: str, literal: Any) -> list[dict]:
        cell_id, code = self.cells[address]
        label = code.splitlines()[0]
        reply, iopub = execute(self.kc, f"{label}\n{literal!r}", cell_id)
        assert reply["content"]["status"] == "ok", reply["content"]
        return iopub

    def run(self, code: str, cell_id: str) -> tuple[dict, list[dict]]:
        return execute(self.kc, code, cell_id)


@pytest.fixture(scope="module")
def budget() -> Iterator[Budget]:
    km, kc = start_kernel()
    try:
        yield Budget(kc)
    finally:
        stop_kernel(km, kc)


def frame(b: Budget, address: str) -> list[list[Any]]:
    return value(b.kc, f"{address}.values.tolist()")


def errors(iopub: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in iopub
            if m["msg_type"] == "error"]


def test_a_what_if_table_equals_the_scenarios_run_one_at_a_time(budget: Budget) -> None:
    before = {a: value(budget.kc, a) for a in ("A1", "B2", "B3", "B4")}
    reply, iopub = budget.run(
        '# @D1 what if\nsheet.what_if({"A1": [1000, 1500, 2000], "B2": [3000, 4000]}, '
        'outputs=["B3", "B4"])', "whatif-d1")
    assert reply["content"]["status"] == "ok", errors(iopub)
    table = frame(budget, "D1")
    assert [row[:2] for row in table] == [list(p) for p in itertools.product(
        [1000, 1500, 2000], [3000, 4000])]
    assert value(budget.kc, "list(D1.columns)") == ["A1", "B2", "B3", "B4"]
    # The live sheet did not change: values, namespace, and no other cell's output.
    assert {a: value(budget.kc, a) for a in before} == before
    updated = [m["content"]["transient"]["display_id"] for m in iopub
               if m["msg_type"] == "update_display_data"]
    assert updated == [], updated
    # The same scenarios, one at a time, in the live kernel.
    try:
        for row in table:
            budget.set("A1", row[0])
            budget.set("B2", row[1])
            assert [value(budget.kc, "B3"), value(budget.kc, "B4")] == row[2:], row
    finally:
        budget.set("A1", 1200)
        budget.set("B2", 3000)
    assert value(budget.kc, "B3") == before["B3"]


def test_whatif_magic_shows_the_same_table(budget: Budget) -> None:
    reply, iopub = budget.run("# @D2\n%whatif A1=1000,2000 -> B3 B1", "whatif-d2")
    assert reply["content"]["status"] == "ok", errors(iopub)
    assert frame(budget, "D2") == [[1000, 1230, 1770], [2000, 230, 2770]]
    shown = [m for m in iopub if m["msg_type"] == "display_data"]
    html = shown[-1]["content"]["data"]["text/html"]
    assert "1230" in html and "2770" in html


def test_the_table_reruns_when_a_formula_upstream_changes_even_with_the_same_value(
        budget: Budget) -> None:
    """B1 rewritten so it no longer reads A1 keeps its value (1970): ordinary readers below
    the unchanged B3 are cut off, but the table over A1 is different now, so it re-runs."""
    reply, _ = budget.run('# @D3\nsheet.what_if({"A1": [1000, 2000]}, outputs=["B3"])',
                          "whatif-d3")
    assert reply["content"]["status"] == "ok"
    assert frame(budget, "D3") == [[1000, 1230], [2000, 230]]
    b1_id, b1_code = budget.cells["B1"]
    try:
        _, iopub = budget.run("# @B1 total\n1200 + A2 + A3 + A4", b1_id)
        assert value(budget.kc, "B1") == 1970
        assert frame(budget, "D3") == [[1000, 1030], [2000, 1030]]
        updated = [m["content"]["transient"]["display_id"] for m in iopub
                   if m["msg_type"] == "update_display_data"]
        # B3 reads the edited B1 (so it runs), gives the same value, and B4 below it is cut
        # off; D3, below B3 too, is not.
        assert "pysheets-D3" in updated and "pysheets-B4" not in updated, updated
    finally:
        budget.run(b1_code, b1_id)
    assert frame(budget, "D3") == [[1000, 1230], [2000, 230]]


def test_goal_seek_finds_the_input_and_the_sheet_agrees(budget: Budget) -> None:
    reply, iopub = budget.run(
        '# @D4\nsheet.goal_seek("B3", target=0, by="A1", bounds=(0, 10_000))', "goal-d4")
    assert reply["content"]["status"] == "ok", errors(iopub)
    found = value(budget.kc, "float(D4)")
    assert abs(found - 2230) < 1e-6
    assert value(budget.kc, "D4.evaluations") <= 10
    assert value(budget.kc, "A1") == 1200, "the live sheet is unchanged"
    try:
        budget.set("A1", found)
        assert abs(value(budget.kc, "B3")) < 1e-6
    finally:
        budget.set("A1", 1200)
    reply, iopub = budget.run("# @D5\n%goalseek B4=0.5 by B2 in 1000:100000", "goal-d5")
    assert reply["content"]["status"] == "ok", errors(iopub)
    assert abs(value(budget.kc, "float(D5)") - 3940) < 1e-6


@pytest.mark.parametrize("code, says", [
    ('sheet.goal_seek("B3", target=0, by="A1", bounds=(0, 100))',
     "no solution in the bounds: B3 is 2230 at A1 = 0 and 2130 at A1 = 100"),
    ('sheet.goal_seek("A2", target=0, by="A1", bounds=(0, 100))', "A2 does not depend on A1"),
    ('sheet.goal_seek("B3", target=0, by="B1", bounds=(0, 100))', "B1 is not an input cell"),
    ('sheet.goal_seek("C1", target=0, by="A1", bounds=(0, 100))', "C1 is not a number"),
    ('sheet.what_if({"B1": [1, 2]}, outputs=["B3"])', "B1 is not an input cell"),
    ('sheet.what_if({"A1": [1, 2]}, outputs=["Z9"])', "no cell at Z9"),
    ('sheet.what_if({"A1": [object()]}, outputs=["B3"])', "must be Python literals"),
])
def test_questions_without_an_answer_are_clear_errors(budget: Budget, code: str,
                                                      says: str) -> None:
    reply, iopub = budget.run(f"# @E9\n{code}", "errors-e9")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ScenarioError"
    assert says in reply["content"]["evalue"], reply["content"]["evalue"]
    assert value(budget.kc, "B3") == 1030


def test_a_what_if_on_a_dask_cluster(budget: Budget, tmp_path: Path) -> None:
    reply, iopub = budget.run(
        "from dask.distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, "
        "host='127.0.0.1', dashboard_address=None)\n"
        "client = Client(cluster)\n"
        "try:\n"
        '    table = sheet.what_if({"A1": [1000, 1500, 2000], "B2": [3000, 4000]}, '
        'outputs=["B3", "B4"], executor=client)\n'
        "    dask_pids = sorted(client.run(__import__('os').getpid).values())\n"
        "finally:\n"
        "    client.close()\n"
        "    cluster.close()\n"
        "table", "dask-f1")
    assert reply["content"]["status"] == "ok", errors(iopub)
    table = value(budget.kc, "table.values.tolist()")
    assert table == [[a1, b2, b2 - (a1 + 770), (b2 - (a1 + 770)) / b2]
                     for a1, b2 in itertools.product([1000, 1500, 2000], [3000, 4000])]
    # Each chunk's worker process was started by a Dask worker, not by the kernel.
    ran_in = value(budget.kc, "table.attrs['pysheets']['started_by']")
    dask_pids = value(budget.kc, "dask_pids")
    assert len(dask_pids) == 2 and len(ran_in) == 2, (dask_pids, ran_in)
    assert set(ran_in) <= set(dask_pids), (ran_in, dask_pids)


def test_a_copy_resolves_names_in_the_notebooks_order_not_the_run_order() -> None:
    """Notebook order A1, C1 (x = A1), A9 (x * 10), B5 (x = 2); B5 ran before A9. The live
    sheet gives A9 the x of C1 (the nearest above it in the notebook); so must the copies."""
    km, kc = start_kernel()
    try:
        ids = ["in", "c1", "a9", "b5", "table"]
        comm_id = uuid.uuid4().hex
        kc.shell_channel.send(kc.session.msg(
            "comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}}))
        kc.shell_channel.send(kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"type": "order", "cells": ids}}))
        for cell_id, code in [("in", "# @A1\n1"), ("c1", "# @C1\nx = A1"),
                              ("b5", "# @B5\nx = 2"), ("a9", "# @A9\nx * 10")]:
            assert execute(kc, code, cell_id)[0]["content"]["status"] == "ok"
        assert value(kc, "A9") == 10
        reply, iopub = execute(
            kc, '# @D1\nsheet.what_if({"A1": [1, 3]}, outputs=["A9"])', "table")
        assert reply["content"]["status"] == "ok", errors(iopub)
        assert value(kc, "D1.values.tolist()") == [[1, 10], [3, 30]]
    finally:
        stop_kernel(km, kc)


def test_a_kernel_cannot_make_a_model_of_its_own(budget: Budget) -> None:
    reply, _ = budget.run("from pysheets_kernel import _native\n_native.Model()", "model-x1")
    assert reply["content"]["ename"] == "RuntimeError"
    assert "a kernel runs in this process" in reply["content"]["evalue"]


def test_an_interrupt_stops_a_what_if_and_its_workers() -> None:
    import psutil

    km, kc = start_kernel()
    try:
        # B1 sleeps only in the copies: in the live sheet A1 is 1 and it returns at once.
        for cell_id, code in [("a", "# @A1\n1"),
                              ("b", "# @B1\nimport time\ntime.sleep(60 if A1 > 1 else 0)\nA1 + 1")]:
            assert execute(kc, code, cell_id)[0]["content"]["status"] == "ok"
        content = {"code": '# @C1\nsheet.what_if({"A1": [1, 2, 3, 4]}, outputs=["B1"])',
                   "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": False}
        msg = kc.session.msg("execute_request", content, metadata={"cellId": "c"})
        kc.shell_channel.send(msg)
        kernel = psutil.Process(km.provisioner.process.pid)
        deadline = time.monotonic() + 30
        while not any("scenario-worker" in " ".join(p.cmdline()) for p in kernel.children(True)):
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.1)
        km.interrupt_kernel()
        reply = get_reply(kc, msg["header"]["msg_id"], timeout=20)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        time.sleep(0.5)
        left = [p.cmdline() for p in kernel.children(True) if p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
        assert not [c for c in left if "scenario-worker" in " ".join(c)], left
        assert value(kc, "A1") == 1, "the kernel goes on"
    finally:
        stop_kernel(km, kc)
