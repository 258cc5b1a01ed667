"""Black-box tests of the sheet's shapes (issue 11): far cells, huge ranges, long cycles, labels.

Each case used to crash, hang or exhaust the kernel: `%sheet` after a far label drew the whole
rectangle up to it (1.44 GB for `# @ZZ50000`), a range was every address in it (`A1:XFD1048576`
grew to 24 GB), every cell on a cycle carried the whole path, and an invalid label put the cell
at the next free address. Driven through jupyter_client like the rest of the suite.
"""

from __future__ import annotations

import json
from typing import Any

import psutil
import pytest
from conftest import assert_ok
from test_sheet import SHEET_MIME, by_address, cell, error_of, peek, ps, run, sheet, shown, updates_of

pytestmark = pytest.mark.pysheets_only

# Generous bounds: what matters is that they do not grow with the rectangle.
MAX_SHEET_MESSAGE = 64_000
MAX_KERNEL_RSS = 1_000_000_000


@pytest.fixture
def km_kc(fresh_kernel: tuple[Any, Any]) -> tuple[Any, Any]:
    return fresh_kernel


@pytest.fixture
def kc(km_kc: tuple[Any, Any]) -> Any:
    return km_kc[1]


def kernel_rss_peak(km: Any) -> int:
    """Peak resident set size of the kernel process (Linux VmHWM), in bytes."""
    pid = km.provisioner.process.pid
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return psutil.Process(pid).memory_info().rss


def sheet_size(bundle: dict[str, Any]) -> int:
    return len(json.dumps(bundle))


@pytest.mark.parametrize("far", ["ZZ50000", "XFD1048576"])
def test_sheet_after_a_far_label_costs_what_the_cells_cost(km_kc: tuple[Any, Any], far: str) -> None:
    km, kc = km_kc
    cell(kc, "# @A1 rent\n1200", "a1")
    cell(kc, f"# @{far} far\nA1 * 2", "far")
    data, bundle = sheet(kc)
    assert {c["address"] for c in data["cells"]} == {"A1", far}
    assert by_address(data)[far]["value"] == "2400"
    assert sheet_size(bundle) < MAX_SHEET_MESSAGE, sheet_size(bundle)
    html = bundle["text/html"]
    # The far cell is drawn, with its headers, and the empty stretch before it is one `…`.
    letters = far.rstrip("0123456789")
    assert f">{letters}</th>" in html and f">{far[len(letters):]}</th>" in html, html
    assert "2400" in html and "1200" in html and "…" in html, html
    assert kernel_rss_peak(km) < MAX_KERNEL_RSS


def test_a_small_sheet_table_is_drawn_whole(kc: Any) -> None:
    cell(kc, "# @A1\n1", "a1")
    cell(kc, "# @C3\n3", "c3")
    _, bundle = sheet(kc)
    html = bundle["text/html"]
    # Every column A..C and row 1..3, the empty ones too: nothing elided.
    for header in ("A", "B", "C", "1", "2", "3"):
        assert f">{header}</th>" in html, header
    assert "…" not in html and "⋮" not in html, html


def test_a_whole_sheet_range_is_a_range(km_kc: tuple[Any, Any]) -> None:
    km, kc = km_kc
    cell(kc, "# @A2\n1", "a2")
    cell(kc, "# @C3\n2", "c3")
    cell(kc, "# @ZZ50000\n3", "zz")
    reply, iopub = cell(kc, "# @A1 total\nsum(A2:XFD1048576)", "a1")
    assert shown(iopub, "A1") == ["6"]
    # The reader's inputs are the cells inside its range, not its 17 billion addresses.
    data, _ = sheet(kc)
    assert sorted(by_address(data)["A1"]["reads"]) == ["A2", "C3", "ZZ50000"]
    # (User expressions are not cells: no range syntax there, the call it becomes instead.)
    whole = '__pysheets_range__("A2", "XFD1048576")'
    assert peek(kc, f"list({whole})") == "[1, 2, 3]"
    assert peek(kc, f"{whole}.size") == str(16_384 * 1_048_575)
    # A cell appearing inside the range re-runs the reader, and so does its deletion.
    _, iopub = cell(kc, "# @XFD1048576\n10", "last")
    assert updates_of(iopub, "A1") == ["16"]
    _, iopub = cell(kc, "%sheet delete C3")
    assert updates_of(iopub, "A1") == ["14"]
    # The whole sheet includes the reader itself: a circular reference, said at once.
    reply, _ = run(kc, "# @B1\nsum(A1:XFD1048576)", "b1")
    ename, evalue = error_of(reply)
    assert ename == "CycleError" and "B1 → B1" in evalue, evalue
    # A list of every address of it is refused clearly, not attempted.
    reply, _ = run(kc, "# @XFD1\n(A2:XFC1048576).values", "values")
    ename, evalue = error_of(reply)
    assert ename == "ValueError" and "17,178,804,225 cells" in evalue, evalue
    assert kernel_rss_peak(km) < MAX_KERNEL_RSS


@pytest.mark.parametrize(
    "ref, corner",
    [("A1:XFE2", "XFE2"), ("A1:A1048577", "A1048577"), ("A0:B2", "A0")],
)
def test_a_range_past_the_grid_is_an_error_naming_it(kc: Any, ref: str, corner: str) -> None:
    reply, _ = run(kc, f"sum({ref})", "c")
    ename, evalue = error_of(reply)
    assert ename == "RangeError", f"{ename}: {evalue}"
    assert ref in evalue and corner in evalue, evalue
    data, _ = sheet(kc)
    assert data["cells"] == [], "the cell is not placed"


def test_a_long_cycle_sends_bounded_messages(kc: Any) -> None:
    n = 2_000
    # Built from its end, so that only the last cell closes the cycle.
    for row in range(n, 1, -1):
        nxt = 1 if row == n else row + 1
        cell(kc, f"# @A{row}\n(A{nxt} or 0) + 1", f"c{row}")
    reply, iopub = run(kc, "# @A1\n(A2 or 0) + 1", "c1", timeout=120)
    ename, evalue = error_of(reply)
    assert ename == "CycleError", evalue
    assert f"… {n - 7} more cells …" in evalue and len(evalue) < 300, evalue
    assert len(ps(reply)["errors"]) == n, len(ps(reply)["errors"])
    largest = max(len(json.dumps(m["content"])) for m in iopub)
    assert largest < 4_000, largest
    # Breaking it at one cell re-runs the rest.
    reply, _ = cell(kc, "# @A1\n0", "c1", timeout=120)
    assert len(ps(reply)["reran"]) >= n - 1
    assert peek(kc, f"(A2, A{n})") == f"({n - 1}, 1)"


@pytest.mark.parametrize("label", ["A0", "XFE1", "b3", "A01", "A1048577", "B3:C4", "B3x"])
def test_an_invalid_label_is_an_error_naming_it(kc: Any, label: str) -> None:
    reply, iopub = run(kc, f"# @{label} rent\n1", "bad")
    ename, evalue = error_of(reply)
    assert ename == "LabelError" and f'"@{label}"' in evalue, f"{ename}: {evalue}"
    assert any(m["msg_type"] == "error" for m in iopub), [m["msg_type"] for m in iopub]
    data, _ = sheet(kc)
    assert data["cells"] == [], "neither run nor placed"
    # The next unlabelled cell still gets A1, and a valid label with a title still works.
    reply, _ = cell(kc, "2", "next")
    assert ps(reply)["address"] == "A1"
    _, iopub = cell(kc, "# @B3 rent\n3", "good")
    data, _ = sheet(kc)
    assert by_address(data)["B3"]["title"] == "rent"


def test_a_comment_after_at_is_not_a_label(kc: Any) -> None:
    reply, _ = cell(kc, "# @alice wrote this\n5", "c")
    assert ps(reply)["address"] == "A1"
    assert_ok(reply)
