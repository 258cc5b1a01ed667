"""Black-box tests of the sheet engine: addresses, values, reactivity, the `%sheet` views, the comm.

Written against the engine's observable contract (issue "Sheet engine"). Every test drives a
fresh PySheets kernel through jupyter_client. Requests that play "a notebook cell" carry a
``cellId`` in the execute request's metadata, as JupyterLab sends it; requests without one play
a console. State is inspected without creating cells: a *silent* request with
``user_expressions`` (neither is a cell, by the contract).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import REPLY_TIMEOUT, assert_ok, child_of, collect_iopub, get_reply, read_iopub

pytestmark = pytest.mark.pysheets_only

SHEET_MIME = "application/vnd.pysheets.sheet+json"


# ---------------------------------------------------------------------------
# Fixture and helpers
# ---------------------------------------------------------------------------


@pytest.fixture
def km_kc(fresh_kernel: tuple[Any, Any]) -> tuple[Any, Any]:
    """A fresh kernel per test: the sheet is kernel state."""
    return fresh_kernel


@pytest.fixture
def kc(km_kc: tuple[Any, Any]) -> Any:
    return km_kc[1]


def send_execute(
    kc: Any,
    code: str,
    cell_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    silent: bool = False,
    user_expressions: dict[str, str] | None = None,
) -> str:
    md = dict(metadata or {})
    if cell_id is not None:
        md["cellId"] = cell_id
    content = {
        "code": code,
        "silent": silent,
        "store_history": not silent,
        "user_expressions": user_expressions or {},
        "allow_stdin": False,
        "stop_on_error": False,
    }
    msg = kc.session.msg("execute_request", content, metadata=md)
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def run(
    kc: Any,
    code: str,
    cell_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    timeout: float = REPLY_TIMEOUT,
    **kwargs: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code`` (as the cell ``cell_id`` if given); return (reply, iopub busy → idle)."""
    msg_id = send_execute(kc, code, cell_id, metadata, **kwargs)
    reply = get_reply(kc, msg_id, timeout=timeout)
    iopub = collect_iopub(kc, msg_id, timeout=timeout)
    return reply, iopub


def cell(kc: Any, code: str, cell_id: str | None = None, **kwargs: Any) -> tuple[dict, list]:
    """``run`` that insists on status ok."""
    reply, iopub = run(kc, code, cell_id, **kwargs)
    assert_ok(reply)
    return reply, iopub


def ps(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply's ``metadata.pysheets``."""
    md = reply.get("metadata", {}).get("pysheets")
    assert isinstance(md, dict), (
        f"execute_reply has no metadata.pysheets dict; metadata = {reply.get('metadata')}"
    )
    return md


def error_of(reply: dict[str, Any]) -> tuple[str, str]:
    c = reply["content"]
    assert c["status"] == "error", f"expected an error reply, got {c.get('status')}: {c}"
    return c.get("ename", ""), c.get("evalue", "")


def display_id(msg: dict[str, Any]) -> str | None:
    return (msg["content"].get("transient") or {}).get("display_id")


def shown(iopub: list[dict[str, Any]], addr: str) -> list[str]:
    """text/plain of each display_data with display_id pysheets-<addr>."""
    return [
        m["content"]["data"].get("text/plain")
        for m in iopub
        if m["msg_type"] == "display_data" and display_id(m) == f"pysheets-{addr}"
    ]


def updates(iopub: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(address, text/plain) of each update_display_data for a pysheets display id, in order."""
    out = []
    for m in iopub:
        if m["msg_type"] == "update_display_data":
            did = display_id(m) or ""
            if did.startswith("pysheets-"):
                out.append((did[len("pysheets-"):], m["content"]["data"].get("text/plain")))
    return out


def updates_of(iopub: list[dict[str, Any]], addr: str) -> list[str]:
    return [text for a, text in updates(iopub) if a == addr]


def results(iopub: list[dict[str, Any]]) -> list[str]:
    return [m["content"]["data"].get("text/plain") for m in iopub if m["msg_type"] == "execute_result"]


def msg_types(iopub: list[dict[str, Any]]) -> list[str]:
    return [m["msg_type"] for m in iopub]


def peek(kc: Any, expr: str) -> str:
    """text/plain of ``expr`` evaluated as a user expression of a silent request (not a cell)."""
    reply, _ = run(kc, "", silent=True, user_expressions={"v": expr})
    assert_ok(reply)
    res = reply["content"]["user_expressions"]["v"]
    assert res.get("status") == "ok", f"user expression {expr!r} failed: {res}"
    return res["data"]["text/plain"]


def setup(kc: Any, code: str) -> None:
    """Run ``code`` silently (no cell, no address)."""
    reply, _ = run(kc, code, silent=True)
    assert_ok(reply)


def sheet(kc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``%sheet`` as a console request; return (sheet json, the whole MIME bundle)."""
    reply, iopub = cell(kc, "%sheet")
    bundles = [
        m["content"]["data"]
        for m in iopub
        if m["msg_type"] in ("display_data", "execute_result") and SHEET_MIME in m["content"]["data"]
    ]
    assert len(bundles) == 1, f"%sheet: expected one output with {SHEET_MIME}, got {msg_types(iopub)}"
    return bundles[0][SHEET_MIME], bundles[0]


def by_address(sheet_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["address"]: c for c in sheet_json["cells"]}


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        d = value
    else:
        d = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d


# ---------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------


def test_auto_addresses_go_down_column_a(kc: Any) -> None:
    for n, cid in enumerate(["c1", "c2", "c3"], start=1):
        reply, iopub = cell(kc, f"{n} * 10", cid)
        assert ps(reply)["address"] == f"A{n}"
        assert shown(iopub, f"A{n}") == [str(n * 10)], msg_types(iopub)
        assert results(iopub) == [], "a request with a cellId must not get an execute_result"
    assert peek(kc, "A1 + A2 + A3") == "60"


def test_console_inputs_are_new_cells(kc: Any) -> None:
    reply, iopub = cell(kc, "1")
    assert ps(reply)["address"] == "A1"
    assert results(iopub) == ["1"], "console request: the value comes as execute_result"
    reply, iopub = cell(kc, "1")
    assert ps(reply)["address"] == "A2", "an unlabeled console input is a new cell"
    reply, iopub = cell(kc, "A1 + A2")
    assert ps(reply)["address"] == "A3"
    assert results(iopub) == ["2"]


def test_labeled_address_and_title(kc: Any) -> None:
    reply, iopub = cell(kc, "# @B3 total revenue\n7", "c1")
    assert ps(reply)["address"] == "B3"
    assert shown(iopub, "B3") == ["7"]
    assert peek(kc, "B3") == "7"
    reply, _ = cell(kc, "1", "c2")
    assert ps(reply)["address"] == "A1", "a labeled cell must not use up column A"
    cells = by_address(sheet(kc)[0])
    assert cells["B3"]["title"] == "total revenue"
    assert cells["B3"]["cellId"] == "c1"


def test_metadata_address_and_priority(kc: Any) -> None:
    reply, iopub = cell(kc, "4", "c1", metadata={"pysheets": {"address": "C5"}})
    assert ps(reply)["address"] == "C5"
    assert shown(iopub, "C5") == ["4"]
    # A label beats the metadata address.
    reply, _ = cell(kc, "# @D2\n5", "c2", metadata={"pysheets": {"address": "C6"}})
    assert ps(reply)["address"] == "D2"
    # Re-executed without metadata, the cell keeps its address.
    reply, _ = cell(kc, "6", "c1")
    assert ps(reply)["address"] == "C5"
    assert peek(kc, "C5") == "6"
    reply, _ = cell(kc, "7", "c3")
    assert ps(reply)["address"] == "A1"


def test_cell_id_keeps_its_address(kc: Any) -> None:
    assert ps(cell(kc, "1", "c1")[0])["address"] == "A1"
    assert ps(cell(kc, "2", "c2")[0])["address"] == "A2"
    reply, iopub = cell(kc, "3", "c1")
    assert ps(reply)["address"] == "A1"
    assert shown(iopub, "A1") == ["3"]
    assert ps(cell(kc, "4", "c3")[0])["address"] == "A3"
    assert peek(kc, "(A1, A2, A3)") == "(3, 2, 4)"


def test_console_label_redefines_address(kc: Any) -> None:
    reply, iopub = cell(kc, "# @B1\n1")
    assert ps(reply)["address"] == "B1"
    reply, iopub = cell(kc, "B1 * 10")
    assert ps(reply)["address"] == "A1"
    assert results(iopub) == ["10"]
    reply, iopub = run(kc, "# @B1\n2")
    assert_ok(reply)  # no AddressConflict without cellIds
    assert ps(reply)["address"] == "B1"
    assert results(iopub) == ["2"]
    assert ps(reply)["reran"] == ["A1"]
    assert peek(kc, "(B1, A1)") == "(2, 20)"


def test_address_conflict_between_cell_ids(kc: Any) -> None:
    cell(kc, "# @B1\n1", "c1")
    reply, iopub = run(kc, "# @B1\n2", "c2")
    ename, evalue = error_of(reply)
    assert ename == "AddressConflict", evalue
    assert "B1" in evalue, evalue
    assert "c1" in evalue, f"evalue should name the holder (cell c1): {evalue!r}"
    assert peek(kc, "B1") == "1"
    # The holder itself may re-run with its label.
    reply, _ = cell(kc, "# @B1\n3", "c1")
    assert ps(reply)["address"] == "B1"
    assert peek(kc, "B1") == "3"


def test_address_assignment_is_an_error(kc: Any) -> None:
    cell(kc, "1", "c1")
    reply, _ = run(kc, "# @B2\nA1 = 3", "c2")
    ename, evalue = error_of(reply)
    assert ename == "AddressAssignment", f"{ename}: {evalue}"
    assert peek(kc, "A1") == "1"


def test_silent_requests_and_user_expressions_are_not_cells(kc: Any) -> None:
    setup(kc, "seen = []")
    setup(kc, "5")
    reply, _ = cell(kc, "1", "c1", user_expressions={"u": "40 + 2"})
    assert ps(reply)["address"] == "A1", "a silent request must not take an address"
    assert reply["content"]["user_expressions"]["u"]["data"]["text/plain"] == "42"
    setup(kc, "seen.append(A1)")
    reply, _ = cell(kc, "2", "c2")
    assert ps(reply)["address"] == "A2", "user_expressions must not take an address"
    reply, _ = cell(kc, "10", "c1")
    assert ps(reply)["reran"] == []
    assert peek(kc, "seen") == "[1]", "a silent request must never be re-run"
    codes = [c.get("code") or "" for c in sheet(kc)[0]["cells"]]
    assert not any("seen" in code for code in codes), f"silent code listed as a cell: {codes}"


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def test_values_of_cells(kc: Any) -> None:
    reply, iopub = cell(kc, "# @A1\n1 + 1", "c1")
    assert shown(iopub, "A1") == ["2"]
    assert results(iopub) == []
    reply, iopub = cell(kc, "# @A2\nx = 5", "c2")
    assert shown(iopub, "A2") == ["5"], "a plain assignment's value is the assigned value"
    assert peek(kc, "(A2, x)") == "(5, 5)"
    cell(kc, "# @A3\nfor i in range(3):\n    pass", "c3")
    assert peek(kc, "A3 is None") == "True"
    cell(kc, "# @A4\ny = 1\ny + 6", "c4")
    assert peek(kc, "A4") == "7"
    cell(kc, "# @A5\nimport os", "c5")
    assert peek(kc, "A5 is None") == "True"


def test_trailing_semicolon_hides_output_but_sets_value(kc: Any) -> None:
    reply, iopub = cell(kc, "# @A1\n40 + 2;", "c1")
    texts = [m["content"].get("data", {}).get("text/plain") for m in iopub
             if m["msg_type"] in ("display_data", "execute_result")]
    assert "42" not in texts, f"trailing ; must hide the value: {iopub}"
    assert peek(kc, "A1") == "42"
    # Console: no execute_result either.
    reply, iopub = cell(kc, "# @B1\n6 * 7;")
    assert results(iopub) == []
    assert peek(kc, "B1") == "42"
    # And a console value of None shows nothing.
    reply, iopub = cell(kc, "# @C1\nNone")
    assert results(iopub) == []


def test_empty_address_reads_none_and_filling_it_reruns_readers(kc: Any) -> None:
    _, iopub = cell(kc, "# @A1\nB5 is None", "c1")
    assert shown(iopub, "A1") == ["True"]
    _, iopub = cell(kc, "# @A2\n(B5 or 0) + 1", "c2")
    assert shown(iopub, "A2") == ["1"]
    reply, iopub = cell(kc, "# @B5\n41", "c3")
    assert sorted(ps(reply)["reran"]) == ["A1", "A2"]
    assert updates_of(iopub, "A1") == ["False"]
    assert updates_of(iopub, "A2") == ["42"]



def test_a_new_cell_that_changes_an_object_in_place_reruns_nothing_above_it(kc: Any) -> None:
    """Running a new `lst.append(…)` or `os.…(…)` cell is what a top-to-bottom run does
    next: the cells that made and read the object keep their run (re-running them would
    repeat their side effects). Running it again rebuilds the object from its maker."""
    cell(kc, "# @A1\nimport itertools\nmade = next(itertools.count())\nlog = []", "m1")
    cell(kc, "# @A2\nlen(log)", "m2")
    reply, _ = cell(kc, "# @A3\nlog.append('a')", "m3")
    assert ps(reply)["reran"] == []
    assert peek(kc, "log") == "['a']"
    reply, _ = cell(kc, "# @A3\nlog.append('a')", "m3")
    assert sorted(ps(reply)["reran"]) == ["A1", "A2"]
    assert peek(kc, "log") == "['a']"


# ---------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------


def test_ranges(kc: Any) -> None:
    for n in (1, 2, 3):
        cell(kc, str(n), f"a{n}")  # A1..A3
    cell(kc, "# @B1\n20", "b1")
    checks = {
        "D1": ("sum(A1:A3)", "6"),
        "D2": ("(A1:B4).values", "[[1, 20], [2, None], [3, None], [None, None]]"),
        "D3": ("len(A1:B4)", "8"),
        "D4": ("list(A1:B2)", "[1, 20, 2]"),
        "D5": ("sorted((A1:B2).addresses)", "['A1', 'A2', 'B1', 'B2']"),
        "D6": ("(A1:A3)[0], (A1:A3)[-1]", "(1, 3)"),
        "D7": (
            "df = (A1:B3).to_frame(header=False)\n"
            "(type(df).__name__, df.shape, int(df.iloc[0, 1]), int(df.iloc[2, 0]))",
            "('DataFrame', (3, 2), 20, 3)",
        ),
    }
    for addr, (code, expected) in checks.items():
        reply, iopub = run(kc, f"# @{addr}\n{code}", f"d-{addr}")
        assert_ok(reply)
        assert shown(iopub, addr) == [expected], f"{code!r}: {msg_types(iopub)}"
    # A range depends on every address inside it.
    reply, iopub = cell(kc, "5", "a2")
    assert set(ps(reply)["reran"]) == set(checks), ps(reply)
    assert updates_of(iopub, "D1") == ["9"]
    assert updates_of(iopub, "D4") == ["[1, 20, 5]"]
    # Filling an empty address inside a range re-runs its readers only.
    reply, iopub = cell(kc, "# @A4\n100", "a4")
    assert sorted(ps(reply)["reran"]) == ["D2", "D3"], ps(reply)
    assert updates_of(iopub, "D2") == ["[[1, 20], [5, None], [3, None], [100, None]]"]


# ---------------------------------------------------------------------------
# Reactivity
# ---------------------------------------------------------------------------


def test_name_dependency_updates_reader(kc: Any) -> None:
    reply, iopub = cell(kc, "x = 1", "c1")
    assert ps(reply)["address"] == "A1"
    reply, iopub = cell(kc, "x * 2", "c2")
    assert ps(reply)["address"] == "A2"
    assert shown(iopub, "A2") == ["2"]
    msg_id = send_execute(kc, "x = 5", "c1")
    reply = get_reply(kc, msg_id)
    iopub = collect_iopub(kc, msg_id)
    assert_ok(reply)
    assert ps(reply)["reran"] == ["A2"]
    ups = [m for m in iopub if m["msg_type"] == "update_display_data"]
    assert len(ups) == 1, msg_types(iopub)
    assert display_id(ups[0]) == "pysheets-A2"
    assert ups[0]["content"]["data"]["text/plain"] == "10"
    assert ups[0]["parent_header"]["msg_id"] == msg_id


DEFINERS = {
    "assignment": ("x = 1", "x = 2", "x", "1", "2"),
    "def": ("def f():\n    return 1", "def f():\n    return 2", "f()", "1", "2"),
    "class": ("class K:\n    v = 1", "class K:\n    v = 2", "K.v", "1", "2"),
    "import": ("import math as m", "import json as m", "m.__name__", "'math'", "'json'"),
    "for": ("for i in range(3):\n    pass", "for i in range(5):\n    pass", "i", "2", "4"),
    "with": (
        "import contextlib\nwith contextlib.nullcontext(7) as w:\n    pass",
        "import contextlib\nwith contextlib.nullcontext(8) as w:\n    pass",
        "w",
        "7",
        "8",
    ),
}


@pytest.mark.parametrize("kind", list(DEFINERS))
def test_name_definers(kc: Any, kind: str) -> None:
    first, second, reader, before, after = DEFINERS[kind]
    cell(kc, f"# @A1\n{first}", "def")
    _, iopub = cell(kc, f"# @B1\n{reader}", "reader")
    assert shown(iopub, "B1") == [before]
    reply, iopub = cell(kc, f"# @A1\n{second}", "def")
    assert ps(reply)["reran"] == ["B1"], f"{kind}: reader not re-run: {ps(reply)}"
    assert updates_of(iopub, "B1") == [after]


def test_two_definers_nearest_before_else_last(kc: Any) -> None:
    cell(kc, "# @A1\nx = 1", "a1")
    cell(kc, "# @A3\nx = 3", "a3")
    cell(kc, "# @A2\nx * 10", "a2")
    cell(kc, "# @B3\nx * 100", "b3")
    reply, iopub = cell(kc, "# @A1\nx = 2", "a1")
    assert "A2" in ps(reply)["reran"] and "B3" not in ps(reply)["reran"], ps(reply)
    assert updates_of(iopub, "A2") == ["20"]
    reply, iopub = cell(kc, "# @A3\nx = 4", "a3")
    assert "B3" in ps(reply)["reran"] and "A2" not in ps(reply)["reran"], ps(reply)
    assert updates_of(iopub, "B3") == ["400"]
    # No definer before C1: it reads the last one in the sheet (C4), not C2.
    cell(kc, "# @C2\ny = 2", "c2")
    cell(kc, "# @C4\ny = 4", "c4")
    cell(kc, "# @C1\ny + 0", "c1")
    reply, _ = cell(kc, "# @C2\ny = 3", "c2")
    assert "C1" not in ps(reply)["reran"], ps(reply)
    reply, iopub = cell(kc, "# @C4\ny = 5", "c4")
    assert "C1" in ps(reply)["reran"], ps(reply)
    assert updates_of(iopub, "C1") == ["5"]
    cells = by_address(sheet(kc)[0])
    assert "A1" in cells["A2"]["reads"] and "A3" not in cells["A2"]["reads"], cells["A2"]
    assert "C4" in cells["C1"]["reads"] and "C2" not in cells["C1"]["reads"], cells["C1"]


def test_diamond_reruns_each_cell_once(kc: Any) -> None:
    setup(kc, "runs = []")
    cell(kc, "# @A1\n1", "a1")
    cell(kc, '# @B1\nruns.append("B1")\nA1 + 1', "b1")
    cell(kc, '# @C1\nruns.append("C1")\nA1 * 2', "c1")
    _, iopub = cell(kc, '# @D1\nruns.append("D1")\nB1 + C1', "d1")
    assert shown(iopub, "D1") == ["4"]
    setup(kc, "runs.clear()")
    reply, iopub = cell(kc, "# @A1\n5", "a1")
    reran = ps(reply)["reran"]
    assert sorted(reran) == ["B1", "C1", "D1"] and reran[-1] == "D1", reran
    assert sorted(eval(peek(kc, "runs"))) == ["B1", "C1", "D1"], "each cell must run exactly once"
    assert updates_of(iopub, "D1") == ["16"]
    assert sorted(a for a, _ in updates(iopub)) == ["B1", "C1", "D1"]


def test_early_cutoff(kc: Any) -> None:
    setup(kc, "runs = []")
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\nA1 > 0", "b1")
    _, iopub = cell(kc, '# @C1\nruns.append("C1")\nnot B1', "c1")
    assert shown(iopub, "C1") == ["False"]
    setup(kc, "runs.clear()")
    reply, iopub = cell(kc, "# @A1\n2", "a1")
    assert ps(reply)["reran"] == ["B1"], f"B1 unchanged (True): C1 must not re-run: {ps(reply)}"
    assert peek(kc, "runs") == "[]"
    assert updates_of(iopub, "C1") == []
    reply, iopub = cell(kc, "# @A1\n-1", "a1")
    assert ps(reply)["reran"] == ["B1", "C1"]
    assert updates_of(iopub, "C1") == ["True"]
    # Equal but of another type (1 vs 1.0) is a change.
    cell(kc, "# @G1\n1", "g1")
    cell(kc, "# @H1\nG1 + 0", "h1")
    cell(kc, "# @I1\nH1", "i1")
    reply, iopub = cell(kc, "# @G1\n1.0", "g1")
    assert ps(reply)["reran"] == ["H1", "I1"], ps(reply)
    assert updates_of(iopub, "I1") == ["1.0"]


def test_upstream_error_and_recovery(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\n10 // A1", "b1")
    cell(kc, "# @C1\nB1 + 1", "c1")
    cell(kc, "# @D1\nC1 * 2", "d1")
    reply, iopub = run(kc, "# @A1\n0", "a1")
    md = ps(reply)
    assert {"B1", "C1", "D1"} <= set(md["errors"]), md
    c1 = updates_of(iopub, "C1")
    assert len(c1) == 1, updates(iopub)
    assert "upstream error in B1" in c1[0] and "ZeroDivisionError" in c1[0], c1
    d1 = updates_of(iopub, "D1")
    assert len(d1) == 1 and "upstream error in" in d1[0], d1
    # A new cell reading the failing address.
    reply, _ = run(kc, "# @E1\nB1 + 100", "e1")
    ename, evalue = error_of(reply)
    assert ename == "UpstreamError" and "B1" in evalue, f"{ename}: {evalue}"
    reply, _ = run(kc, "# @F1\nC1 + 1", "f1")
    assert error_of(reply)[0] == "UpstreamError"
    # Fixing the upstream cell re-runs them all.
    reply, iopub = cell(kc, "# @A1\n2", "a1")
    md = ps(reply)
    assert {"B1", "C1", "D1", "E1", "F1"} <= set(md["reran"]), md
    assert md["errors"] == [], md
    assert updates_of(iopub, "C1") == ["6"]
    assert updates_of(iopub, "D1") == ["12"]
    assert updates_of(iopub, "E1") == ["105"]
    assert updates_of(iopub, "F1") == ["7"]


def test_cycles(kc: Any) -> None:
    setup(kc, "runs = []")
    cell(kc, "# @Z1\n7", "z1")
    _, iopub = cell(kc, "# @Z2\nZ1 + 1", "z2")
    _, iopub = cell(kc, '# @A1\nruns.append("A1")\n(B1 or 0) + 1', "a1")
    assert shown(iopub, "A1") == ["1"]
    setup(kc, "runs.clear()")
    reply, _ = run(kc, '# @B1\nruns.append("B1")\nA1 + 1', "b1")
    ename, evalue = error_of(reply)
    assert ename == "CycleError", f"{ename}: {evalue}"
    assert "→" in evalue and "A1" in evalue and "B1" in evalue, evalue
    assert peek(kc, "runs") == "[]", "the cells of a cycle are not run"
    # Cells outside the cycle are unaffected.
    assert not {"Z1", "Z2"} & set(ps(reply)["errors"]), ps(reply)
    assert peek(kc, "(Z1, Z2)") == "(7, 8)"
    _, iopub = cell(kc, "# @C1\n2 + 2", "c1")
    assert shown(iopub, "C1") == ["4"]
    # Self reference.
    reply, _ = run(kc, "# @C2\nC2 + 1", "c2")
    ename, evalue = error_of(reply)
    assert ename == "CycleError", f"{ename}: {evalue}"
    assert "→" in evalue and "C2" in evalue, evalue
    # Breaking the cycle.
    reply, iopub = cell(kc, "# @B1\n5", "b1")
    assert "A1" in ps(reply)["reran"], ps(reply)
    assert updates_of(iopub, "A1") == ["6"]


def test_deleted_cells_metadata(kc: Any) -> None:
    cell(kc, "# @A1\nx = 1", "ca1")
    cell(kc, "# @B1\n7", "cb1")
    _, iopub = cell(kc, "# @C1\nx + 1", "cc1")
    assert shown(iopub, "C1") == ["2"]
    _, iopub = cell(kc, "# @C2\nB1 is None", "cc2")
    assert shown(iopub, "C2") == ["False"]
    reply, iopub = cell(kc, "# @D1\n0", "cd1", metadata={"deletedCells": ["ca1", "cb1"]})
    md = ps(reply)
    assert {"C1", "C2"} <= set(md["reran"]), md
    assert "C1" in md["errors"], f"C1 reads a deleted name: it must be in error: {md}"
    assert updates_of(iopub, "C2") == ["True"]
    reply, _ = run(kc, "# @D2\nx", "cd2")
    assert error_of(reply)[0] == "NameError"
    _, iopub = cell(kc, "# @D3\nA1 is None", "cd3")
    assert shown(iopub, "D3") == ["True"]
    assert not {"A1", "B1"} & set(by_address(sheet(kc)[0])), "deleted cells still listed"
    # The address is free for another cell.
    reply, iopub = cell(kc, "# @B1\n8", "other")
    assert "C2" in ps(reply)["reran"]
    assert updates_of(iopub, "C2") == ["False"]


def test_sheet_delete_magic(kc: Any) -> None:
    cell(kc, "# @B3\n3", "cb3")
    _, iopub = cell(kc, "# @C3\nB3 is None", "cc3")
    assert shown(iopub, "C3") == ["False"]
    _, iopub = cell(kc, "%sheet delete B3")
    assert updates_of(iopub, "C3") == ["True"], updates(iopub)
    assert peek(kc, "C3") == "True"
    assert "B3" not in by_address(sheet(kc)[0])
    reply, iopub = cell(kc, "# @B3\n4", "other")
    assert updates_of(iopub, "C3") == ["False"]


def test_lazy_mode(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\nA1 + 1", "b1")
    cell(kc, "%sheet lazy")
    reply, iopub = cell(kc, "# @A1\n5", "a1")
    md = ps(reply)
    assert md["stale"] == ["B1"], md
    assert "B1" not in md["reran"], md
    # B1's display may be marked stale, but must not show a recomputed value.
    assert "6" not in updates_of(iopub, "B1"), updates(iopub)
    assert peek(kc, "B1") == "2", "a stale cell keeps its last value"
    sj = sheet(kc)[0]
    assert sj["mode"] == "lazy"
    assert by_address(sj)["B1"]["state"] == "stale"
    reply, iopub = cell(kc, "%sheet run")
    assert updates_of(iopub, "B1") == ["6"]
    assert ps(reply)["stale"] == []
    assert peek(kc, "B1") == "6"
    cell(kc, "%sheet auto")
    assert sheet(kc)[0]["mode"] == "auto"
    reply, iopub = cell(kc, "# @A1\n7", "a1")
    assert ps(reply)["reran"] == ["B1"] and ps(reply)["stale"] == []
    assert updates_of(iopub, "B1") == ["8"]


def test_labeled_lazy_cell(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\nA1 + 1", "b1")
    reply, iopub = cell(kc, "# @C1 lazy\nA1 * 100", "c1")
    assert ps(reply)["address"] == "C1"
    assert shown(iopub, "C1") == ["100"], "a lazy cell runs when executed itself"
    cell(kc, "# @C2 total lazy\nA1 * 1000", "c2")
    reply, iopub = cell(kc, "# @A1\n2", "a1")
    md = ps(reply)
    assert md["reran"] == ["B1"], md
    assert sorted(md["stale"]) == ["C1", "C2"], md
    assert updates_of(iopub, "B1") == ["3"]
    assert "200" not in updates_of(iopub, "C1") and "2000" not in updates_of(iopub, "C2")
    assert peek(kc, "C1") == "100"
    sj = sheet(kc)[0]
    assert sj["mode"] == "auto"
    assert by_address(sj)["C2"]["title"] == "total"
    _, iopub = cell(kc, "%sheet run")
    assert updates_of(iopub, "C1") == ["200"]
    assert updates_of(iopub, "C2") == ["2000"]


def test_interrupt_stops_downstream_batch(km_kc: tuple[Any, Any], tmp_path: Path) -> None:
    km, kc = km_kc
    mark = tmp_path / "b1-sleeping"
    cell(kc, "# @A1\n1", "a1")
    cell(
        kc,
        "# @B1\nimport time, pathlib\nif A1 == 2:\n"
        f"    pathlib.Path({str(mark)!r}).write_text('x')\n    time.sleep(10)\nA1 * 10",
        "b1",
    )
    cell(kc, "# @C1\nB1 + 1", "c1")
    cell(kc, "# @D1\nC1 + 1", "d1")
    msg_id = send_execute(kc, "# @A1\n2", "a1")
    deadline = time.monotonic() + 10
    while not mark.exists():
        assert time.monotonic() < deadline, "B1 never started its re-run"
        time.sleep(0.02)
    time.sleep(0.2)
    km.interrupt_kernel()
    t0 = time.monotonic()
    reply = get_reply(kc, msg_id, timeout=15)
    iopub = collect_iopub(kc, msg_id, timeout=5)
    assert time.monotonic() - t0 < 5, "the interrupt did not stop the batch"
    md = ps(reply)
    assert {"C1", "D1"} <= set(md["stale"]), md
    assert not {"C1", "D1"} & set(md["reran"]), md
    assert "21" not in updates_of(iopub, "C1") and "22" not in updates_of(iopub, "D1")
    assert peek(kc, "C1") == "11"
    _, iopub = cell(kc, "# @E1\n1 + 1", "e1")
    assert shown(iopub, "E1") == ["2"]


def test_updates_arrive_before_reply_and_idle(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, '# @B1\nprint("hello from B1")\nA1 + 1', "b1")
    cell(kc, "# @C1\nB1 * 10", "c1")
    msg_id = send_execute(kc, "# @A1\n2", "a1")
    reply = get_reply(kc, msg_id)
    iopub = collect_iopub(kc, msg_id)
    assert_ok(reply)
    assert ps(reply)["reran"] == ["B1", "C1"]
    ups = [m for m in iopub if m["msg_type"] == "update_display_data"]
    assert [display_id(m) for m in ups] == ["pysheets-B1", "pysheets-C1"], msg_types(iopub)
    assert [m["content"]["data"]["text/plain"] for m in ups] == ["3", "30"]
    reply_date = _as_datetime(reply["header"]["date"])
    for m in ups:
        assert m["parent_header"]["msg_id"] == msg_id
        assert _as_datetime(m["header"]["date"]) <= reply_date, "update sent after the execute_reply"
    assert "hello from B1" not in "".join(
        m["content"].get("text", "") for m in iopub if m["msg_type"] == "stream"
    ), "stdout of a re-run cell must not be shown"
    # Nothing for this request after idle.
    late = [m["msg_type"] for m in read_iopub(kc, keep=child_of(msg_id), timeout=0.5)]
    assert late == [], f"messages after idle: {late}"


# ---------------------------------------------------------------------------
# Seeing the sheet
# ---------------------------------------------------------------------------


def test_sheet_bundle(kc: Any) -> None:
    cell(kc, "# @A1 revenue\n100", "c1")
    cell(kc, "# @B1\nA1 * 2", "c2")
    assert run(kc, "# @C1\n1 / 0", "c3")[0]["content"]["status"] == "error"
    assert error_of(run(kc, "# @D1\nC1", "c4")[0])[0] == "UpstreamError"
    sj, bundle = sheet(kc)
    assert sj["mode"] == "auto"
    cells = by_address(sj)
    assert {"A1", "B1", "C1", "D1"} <= set(cells), list(cells)
    for c in cells.values():
        assert {"address", "title", "cellId", "state", "value", "reads", "code"} <= set(c), c
    a1, b1, c1, d1 = (cells[a] for a in ("A1", "B1", "C1", "D1"))
    assert (a1["title"], a1["cellId"], a1["state"], a1["reads"]) == ("revenue", "c1", "ok", []), a1
    assert "100" in a1["value"] and "100" in a1["code"], a1
    assert (b1["cellId"], b1["state"], b1["reads"]) == ("c2", "ok", ["A1"]), b1
    assert "200" in b1["value"] and "A1 * 2" in b1["code"], b1
    assert c1["state"] == "error", c1
    assert (d1["state"], d1["reads"]) == ("upstream-error", ["C1"]), d1
    html = bundle["text/html"]
    assert "<table" in html and "revenue" in html and "B1" in html, html[:500]
    text = bundle["text/plain"]
    assert all(a in text for a in ("A1", "B1", "C1", "D1")), text
    # With a cellId, %sheet answers with display_data.
    _, iopub = cell(kc, "%sheet", "viewer")
    assert any(
        m["msg_type"] == "display_data" and SHEET_MIME in m["content"]["data"] for m in iopub
    ), f"%sheet with a cellId: expected display_data with {SHEET_MIME}, got {msg_types(iopub)}"
    assert results(iopub) == [], "a request with a cellId must not get an execute_result"


def test_sheet_graph(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\nA1 + 1", "b1")
    cell(kc, "# @C1\nB1 + A1", "c1")
    cell(kc, "# @A2\nx = 1", "a2")
    cell(kc, "# @A3\nx + 1", "a3")
    _, iopub = cell(kc, "%sheet graph")
    outs = [m for m in iopub if m["msg_type"] in ("display_data", "execute_result")]
    assert len(outs) == 1, msg_types(iopub)
    data = outs[0]["content"]["data"]
    edges = {tuple(e) for e in data["application/json"]["edges"]}
    assert edges == {("A1", "B1"), ("B1", "C1"), ("A1", "C1"), ("A2", "A3")}, edges
    for a, b in edges:
        assert f"{a} → {b}" in data["text/plain"], data["text/plain"]


def test_comm_snapshot_and_updates(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @B1\nA1 + 1", "b1")
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}})
    )

    def comm_msgs(seconds: float, stop_type: str | None = None) -> list[dict[str, Any]]:
        def ours(m: dict[str, Any]) -> bool:
            return m["msg_type"] in ("comm_msg", "comm_close") and m["content"].get("comm_id") == comm_id

        def stop(m: dict[str, Any]) -> bool:
            return bool(stop_type) and m["content"].get("data", {}).get("type") == stop_type

        return read_iopub(kc, until=stop, keep=ours, timeout=seconds)

    got = comm_msgs(5, "snapshot")
    assert got and got[0]["msg_type"] == "comm_msg", f"no comm_msg for the pysheets comm: {got}"
    data = got[0]["content"]["data"]
    assert data.get("type") == "snapshot", data
    assert data["sheet"]["mode"] == "auto"
    assert {"A1", "B1"} <= set(by_address(data["sheet"])), data
    # A change: the kernel pushes an update with the changed cells.
    msg_id = send_execute(kc, "# @A1\n3", "a1")
    assert_ok(get_reply(kc, msg_id))
    got = comm_msgs(3, "update")
    upd = [m["content"]["data"] for m in got if m["content"].get("data", {}).get("type") == "update"]
    assert upd, f"no update comm_msg after a change: {got}"
    cells = {c["address"]: c for u in upd for c in u["cells"]}
    # A re-run cell whose value is all that changed comes in `values`.
    values = {a: v for u in upd for a, v in u.get("values", {}).items()}
    assert "A1" in cells and "B1" in values, upd
    assert values["B1"] == "4", values


def test_comm_carries_a_small_png_of_picture_values(kc: Any) -> None:
    """A cell that draws a chart shows as a picture in the grid: the comm's cell has `png`."""
    cell(
        kc,
        "# @C7 chart\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(2, 1), dpi=40)\nplt.plot([1, 3, 2])",
        "chart",
    )
    cell(kc, "# @C8\n41 + 1", "plain")
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}})
    )

    def is_snapshot(m: dict[str, Any]) -> bool:
        return (
            m["msg_type"] == "comm_msg"
            and m["content"].get("comm_id") == comm_id
            and m["content"].get("data", {}).get("type") == "snapshot"
        )

    got = read_iopub(kc, until=is_snapshot, keep=is_snapshot, timeout=5)
    snapshot = got[0]["content"]["data"]["sheet"] if got else None
    assert snapshot is not None, "no snapshot on the pysheets comm"
    cells = by_address(snapshot)
    png = cells["C7"].get("png")
    assert isinstance(png, str) and png, cells["C7"]
    import base64

    assert base64.b64decode(png).startswith(b"\x89PNG"), png[:40]
    assert "png" not in cells["C8"], cells["C8"]


def test_a_cycle_made_elsewhere_by_an_edit(kc: Any) -> None:
    """A1 stops defining `a`: C1 now reads D1's `a`, which reads C1's `b`. A1 is not on that
    cycle: it runs and shows its value as a new output; C1 and D1 show the cycle error."""
    cell(kc, "a = 1", "ca")
    cell(kc, "# @C1\nb = a + 1", "cc")
    _, iopub = cell(kc, "# @D1\na = b * 2", "cd")
    assert shown(iopub, "D1") == ["4"]
    reply, iopub = run(kc, "z = 1", "ca")
    assert_ok(reply)
    md = ps(reply)
    assert md["address"] == "A1", md
    assert shown(iopub, "A1") == ["1"], msg_types(iopub)
    assert updates_of(iopub, "A1") == [], "A1's value went to an output the client cleared"
    assert {"C1", "D1"} <= set(md["errors"]) and "A1" not in md["errors"], md
    for addr in ("C1", "D1"):
        texts = updates_of(iopub, addr)
        assert texts and "circular reference" in texts[-1], (addr, updates(iopub))
    cells = by_address(sheet(kc)[0])
    assert cells["A1"]["state"] == "ok", cells["A1"]
    assert cells["C1"]["state"] == "error" and "circular" in cells["C1"]["error"], cells["C1"]
    # D1 stops reading C1: the cycle is gone and C1 runs again.
    reply, iopub = cell(kc, "# @D1\na = 5", "cd")
    assert "C1" in ps(reply)["reran"], ps(reply)
    assert updates_of(iopub, "C1") == ["6"]
    assert ps(reply)["errors"] == []


def test_a_reader_says_which_of_several_definers_it_uses(kc: Any) -> None:
    """`x` is defined twice: the reader after the second says it reads that one, in the reply's
    metadata, in the grid's cell JSON and in `%sheet graph`; a name defined once says nothing."""
    cell(kc, "x = 1", "d1")
    cell(kc, "y = x * 10", "r1")
    cell(kc, "x = 2", "d2")
    reply, _ = cell(kc, "x + y", "r2")
    md = ps(reply)
    assert md["address"] == "A4", md
    assert md["definers"] == {"x": "A3"}, md
    reply, _ = cell(kc, "y = x * 10", "r1")
    assert ps(reply)["definers"] == {"x": "A1"}, ps(reply)
    cells = by_address(sheet(kc)[0])
    assert cells["A4"]["uses"] == {"x": "A3"}, cells["A4"]
    assert "uses" not in cells["A3"], cells["A3"]
    _, iopub = cell(kc, "%sheet graph")
    data = [m for m in iopub if m["msg_type"] in ("display_data", "execute_result")][0][
        "content"
    ]["data"]
    assert "A4 reads x from A3 (defined in A1, A3)" in data["text/plain"], data["text/plain"]
    choices = data["application/json"]["choices"]
    assert {"reader": "A4", "name": "x", "definer": "A3", "definers": ["A1", "A3"]} in choices


def test_an_inserted_cell_takes_its_place_in_the_notebook_order(kc: Any) -> None:
    """The grid extension tells the kernel the notebook's order: a cell inserted between a
    definer and its reader is the nearest definer before the reader, whatever its address."""
    comm_id = "grid-order-test"
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}})
    )

    def order(ids: list[str]) -> None:
        msg = kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"type": "order", "cells": ids}}
        )
        kc.shell_channel.send(msg)

    order(["o1", "o2"])
    cell(kc, "ox = 1", "o1")
    _, iopub = cell(kc, "oy = ox * 2", "o2")
    assert shown(iopub, "A2") == ["2"]
    order(["o1", "new", "o2"])
    reply, iopub = cell(kc, "ox = 5", "new")
    md = ps(reply)
    assert md["address"] == "A3" and md["reran"] == ["A2"], md
    assert updates_of(iopub, "A2") == ["10"]
    # Moved below its old reader, it no longer feeds it: the reader goes stale (its value was
    # computed from a definition it no longer reads) until it runs again.
    order(["o1", "o2", "new"])
    cells = by_address(sheet(kc)[0])
    assert cells["A2"]["state"] == "stale", cells["A2"]
    reply, iopub = cell(kc, "oy = ox * 2", "o2")
    assert shown(iopub, "A2") == ["2"]
    assert peek(kc, "(ox, oy)") == "(5, 2)"


def test_a_magic_first_line_does_not_hide_what_the_cell_reads(kc: Any) -> None:
    """The analysis sees the code Python runs (after the magic rewrite): a labelled cell whose
    code starts with `%matplotlib inline` still re-runs when A1 changes."""
    cell(kc, "# @A1\n2", "m1")
    _, iopub = cell(kc, "# @B2\n%matplotlib inline\ny = A1 * 3", "m2")
    assert shown(iopub, "B2") == ["6"]
    reply, iopub = cell(kc, "# @A1\n5", "m1")
    assert ps(reply)["reran"] == ["B2"], ps(reply)
    assert updates_of(iopub, "B2") == ["15"]


def test_a_name_shaped_like_an_address_is_a_variable_unless_a_cell_sits_there(kc: Any) -> None:
    """`R2 = 0.91` (an R² score) is a variable where no cell sits at R2, and its readers say so;
    assigning to the address of a cell stays an error, and there the cell wins."""
    reply, _ = cell(kc, "R2 = 0.91", "r2")
    assert_ok(reply)
    reply, iopub = cell(kc, "round(R2 * 100)", "r2-reader")
    assert shown(iopub, ps(reply)["address"]) == ["91"]
    assert ps(reply)["address_names"] == {"R2": {"reads": "variable", "from": "A1"}}, ps(reply)
    reply, iopub = cell(kc, "R2 = 0.5", "r2")
    assert updates_of(iopub, "A2") == ["50"]
    # A cell placed at F1 makes `F1` that cell's value for its readers.
    cell(kc, "# @F1\n7", "f1")
    reply, _ = run(kc, "F1 = 3", "f1-var")
    assert error_of(reply)[0] == "AddressAssignment", error_of(reply)
    reply, iopub = cell(kc, "F1 * 2", "f1-reader")
    assert shown(iopub, ps(reply)["address"]) == ["14"]
