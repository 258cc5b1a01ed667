"""The journal (issue "Audit trail"): every change to the sheet appended, hash-chained, durable,
shared by kernels on one notebook; and what is asked of it: `%sheet verify`, `%history`,
`%explain`, `%asof` (with back-testing) and `%diff`, and the `sheet` object.

Each test starts its own kernels with its own journal file (``PYSHEETS_JOURNAL``, or the
location rules with it unset) and reads the file itself: the records are the contract.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import (
    REPLY_TIMEOUT,
    STARTUP_TIMEOUT,
    assert_ok,
    clean_env,
    collect_iopub,
    get_reply,
    stop_kernel,
    stream_text,
)
from jupyter_client import KernelManager

pytestmark = pytest.mark.pysheets_only

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GENESIS = "0" * 64


class Kernel:
    """A kernel on a journal, with a client that can say who it is."""

    def __init__(self, env: dict[str, str], cwd: Path | None = None) -> None:
        self.km = KernelManager(kernel_name="pysheets")
        self.km.ip = "127.0.0.1"
        self.km.start_kernel(env=clean_env(**env), cwd=str(cwd) if cwd else None)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)

    def run(
        self,
        code: str,
        cell_id: str | None = None,
        user: str | None = None,
        metadata: dict[str, Any] | None = None,
        silent: bool = False,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        md = dict(metadata or {})
        if cell_id is not None:
            md["cellId"] = cell_id
        content = {"code": code, "silent": silent, "store_history": not silent,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}
        msg = self.kc.session.msg("execute_request", content, metadata=md)
        if user is not None:
            msg["header"]["username"] = user
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        reply = get_reply(self.kc, msg_id, timeout=REPLY_TIMEOUT)
        return reply, collect_iopub(self.kc, msg_id, timeout=REPLY_TIMEOUT)

    def ok(self, code: str, **kw: Any) -> str:
        """Runs `code`, insists on ok, returns the text/plain it showed."""
        reply, iopub = self.run(code, **kw)
        assert_ok(reply)
        return shown_text(iopub)

    def stop(self) -> None:
        stop_kernel(self.km, self.kc)


def shown_text(iopub: list[dict[str, Any]]) -> str:
    return "\n".join(
        m["content"]["data"].get("text/plain", "")
        for m in iopub
        if m["msg_type"] in ("execute_result", "display_data")
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chain_is_valid(path: Path) -> bool:
    """Checked here independently of the kernel: each `prev` is the SHA-256 of the line
    before, and `seq` counts up from 1."""
    prev, seq = GENESIS, 0
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a torn line
        if r["prev"] != prev or r["seq"] != seq + 1:
            return False
        prev, seq = hashlib.sha256(line).hexdigest(), r["seq"]
    return True


def stamp() -> str:
    """The time now as the journal writes it, after a pause so records before and after it
    have other times."""
    time.sleep(0.02)
    t = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(0.02)
    return t


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "nb.journal.jsonl"


@pytest.fixture
def kernel(journal: Path) -> Iterator[Kernel]:
    k = Kernel({"PYSHEETS_JOURNAL": str(journal), "JPY_SESSION_NAME": "work/nb.ipynb"})
    yield k
    k.stop()


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


def test_each_kind_of_change_is_recorded_with_who_when_and_what(
    kernel: Kernel, journal: Path
) -> None:
    kernel.ok("# @A1 rent\n1200", cell_id="c-a1", user="alice")
    kernel.ok("# @B1\nA1 * 12", cell_id="c-b1", user="alice")
    kernel.ok("# @A1 rent\n1200", cell_id="c-a1", user="bob")  # same code: a run
    kernel.ok("# @A1 rent\n1500", cell_id="c-a1", user="bob")  # an edit and a recompute
    reply, _ = kernel.run("# @C1\nB1 = 3", cell_id="c-c1", user="carol")  # refused
    assert reply["content"]["status"] == "error"
    kernel.ok("%sheet lazy", user="carol")
    kernel.ok("%sheet auto", user="carol")
    kernel.ok("x = 1", cell_id="c-x", user="dave")
    kernel.ok("1", cell_id="c-other", user="dave", metadata={"deletedCells": ["c-x"]})

    rs = records(journal)
    kinds = [r["kind"] for r in rs]
    # Running A1 again re-runs its reader (to the same value: listed in `same`).
    assert kinds == ["edit", "edit", "run", "recompute", "edit", "recompute", "error", "mode",
                     "mode", "edit", "delete", "edit"], kinds
    for r in rs:
        assert RFC3339_MS.match(r["time"]), r["time"]
        assert r["notebook"] == "work/nb.ipynb"
    first, b1, run, rerun, edit, batch, refused, lazy, auto, x, deleted, other = rs
    assert rerun["same"] == ["B1"] and rerun["cells"] == []
    assert first["user"] == "alice" and first["address"] == "A1" and first["cell"] == "c-a1"
    assert first["code"] == "# @A1 rent\n1200" and first["title"] == "rent"
    assert (first["type"], first["value"], first["status"]) == ("int", "1200", "ok")
    assert first["reads"] == [] and first["ms"] >= 0
    assert b1["reads"] == ["A1"] and b1["value"] == "14400"
    assert run["user"] == "bob" and "code" not in run and run["value"] == "1200"
    assert edit["user"] == "bob" and edit["code"].endswith("1500")
    assert batch["cause"] == "A1" and batch["user"] == "bob"
    assert batch["cells"] == [{"address": "B1", "type": "int", "value": "18000",
                               "ms": batch["cells"][0]["ms"]}]
    assert refused["address"] == "C1" and refused["status"] == "error"
    assert "AddressAssignment" in refused["error"] and refused["code"] == "# @C1\nB1 = 3"
    assert (lazy["mode"], auto["mode"]) == ("lazy", "auto")
    assert deleted["address"] == x["address"] and deleted["cell"] == "c-x"
    assert other["status"] == "ok"
    assert chain_is_valid(journal)


def test_a_failing_cell_and_its_readers_are_recorded_with_their_errors(
    kernel: Kernel, journal: Path
) -> None:
    kernel.ok("# @A1\n2", cell_id="a")
    kernel.ok("# @B1\n10 / A1", cell_id="b")
    kernel.run("# @A1\n0", cell_id="a")
    edit, batch = records(journal)[-2:]
    assert edit["status"] == "ok" and edit["value"] == "0"
    [b] = batch["cells"]
    assert b["address"] == "B1" and b["status"] == "error"
    assert "ZeroDivisionError" in b["error"]


def test_an_unchanged_rerun_is_listed_compactly_and_big_values_are_truncated(
    kernel: Kernel, journal: Path
) -> None:
    kernel.ok("# @A1\n3", cell_id="a")
    kernel.ok("# @B1\nA1 > 0", cell_id="b")
    kernel.ok("# @C1\nB1 * 1", cell_id="c")
    kernel.ok("# @D1\nlist(range(A1 * 1000))", cell_id="d")
    kernel.ok("# @A1\n4", cell_id="a")
    batch = records(journal)[-1]
    assert batch["same"] == ["B1"], batch  # B1 stays True; C1 is cut off
    changed = {c["address"]: c for c in batch["cells"]}
    assert set(changed) == {"D1"}
    assert changed["D1"]["type"] == "list[4000]"
    assert len(changed["D1"]["value"]) <= 81


def test_header_username_then_hub_user_then_os_user(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    k = Kernel({"PYSHEETS_JOURNAL": str(path), "JUPYTERHUB_USER": "hubby"})
    try:
        k.ok("1", user="erin")
        k.ok("2", user="")
    finally:
        k.stop()
    assert [r["user"] for r in records(path)] == ["erin", "hubby"]
    env = {"PYSHEETS_JOURNAL": str(path)}
    k = Kernel(env)
    try:
        k.ok("3", user="")
    finally:
        k.stop()
    import getpass

    assert records(path)[-1]["user"] == getpass.getuser()
    assert "notebook" not in records(path)[-1]


# ---------------------------------------------------------------------------
# Where the journal is
# ---------------------------------------------------------------------------


def test_beside_the_notebook_from_the_session_name(tmp_path: Path) -> None:
    folder = tmp_path / "proj" / "sub"
    folder.mkdir(parents=True)
    k = Kernel({"PYSHEETS_JOURNAL": "", "JPY_SESSION_NAME": "sub/budget.ipynb"}, cwd=folder)
    try:
        k.ok("1", cell_id="a")
    finally:
        k.stop()
    path = folder / ".pysheets" / "budget.ipynb.journal.jsonl"
    assert path.exists(), list(folder.rglob("*"))
    assert records(path)[0]["notebook"] == "sub/budget.ipynb"


def test_beside_the_notebook_vscode_names(tmp_path: Path) -> None:
    folder = tmp_path / "my docs"
    folder.mkdir()
    nb = folder / "model.ipynb"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    k = Kernel({"PYSHEETS_JOURNAL": ""}, cwd=cwd)
    try:
        # What VS Code's start-up code does, as a silent request before the first cell.
        k.run(f"__vsc_ipynb_file__ = {str(nb)!r}", silent=True)
        k.ok("1", cell_id="a")
    finally:
        k.stop()
    path = folder / ".pysheets" / "model.ipynb.journal.jsonl"
    assert path.exists(), list(tmp_path.rglob("*"))
    assert records(path)[0]["notebook"] == str(nb)
    assert not (cwd / ".pysheets").exists()


def test_in_the_working_directory_when_no_notebook_is_known(tmp_path: Path) -> None:
    k = Kernel({"PYSHEETS_JOURNAL": ""}, cwd=tmp_path)
    try:
        k.ok("1")
    finally:
        k.stop()
    assert len(records(tmp_path / ".pysheets" / "kernel.journal.jsonl")) == 1


def test_an_unwritable_journal_is_one_warning_and_the_sheet_works(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    k = Kernel({"PYSHEETS_JOURNAL": str(blocker / "journal.jsonl")})
    try:
        reply, iopub = k.run("# @A1\n2", cell_id="a")
        assert_ok(reply)
        warning = stream_text(iopub, "stderr")
        assert "journal" in warning and "cannot be written" in warning, warning
        reply, iopub = k.run("# @B1\nA1 * 5", cell_id="b")
        assert_ok(reply)
        assert stream_text(iopub, "stderr") == ""
        assert "10" in shown_text(iopub)
    finally:
        k.stop()


def test_off_writes_nothing(tmp_path: Path) -> None:
    k = Kernel({"PYSHEETS_JOURNAL": "off"}, cwd=tmp_path)
    try:
        k.ok("1")
        reply, iopub = k.run("%history A1")
        assert reply["content"]["status"] == "error"
        assert "no journal" in reply["content"]["evalue"]
    finally:
        k.stop()
    assert not (tmp_path / ".pysheets").exists()


# ---------------------------------------------------------------------------
# Durable, shared, tamper-evident
# ---------------------------------------------------------------------------


def test_a_kernel_killed_right_after_a_reply_loses_nothing(journal: Path) -> None:
    k = Kernel({"PYSHEETS_JOURNAL": str(journal)})
    try:
        for i in range(1, 21):
            k.ok(f"# @A{i}\n{i}", cell_id=f"c{i}")
        os.kill(k.km.provisioner.process.pid, signal.SIGKILL)
        k.km.provisioner.process.wait(timeout=10)
    finally:
        k.kc.stop_channels()
        k.km.cleanup_resources()
    rs = records(journal)
    assert [r["address"] for r in rs] == [f"A{i}" for i in range(1, 21)]
    assert chain_is_valid(journal)


def test_a_torn_last_line_is_reported_and_skipped(journal: Path) -> None:
    k = Kernel({"PYSHEETS_JOURNAL": str(journal)})
    k.ok("# @A1\n1", cell_id="a")
    k.stop()
    with open(journal, "ab") as f:
        f.write(b'{"seq":2,"kind":"edit","time":"2026-')  # a write cut short
    k = Kernel({"PYSHEETS_JOURNAL": str(journal)})
    try:
        reply, iopub = k.run("# @B1\n2", cell_id="b")
        assert_ok(reply)
        assert "line 2 of the journal" in stream_text(iopub, "stderr")
        text = k.ok("%sheet verify")
        assert "chain: valid" in text and "line 2: not a whole record" in text, text
    finally:
        k.stop()
    lines = journal.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["seq"] == 2
    assert chain_is_valid(journal)


def test_two_kernels_on_one_notebook_append_to_one_chain_in_order(journal: Path) -> None:
    env = {"PYSHEETS_JOURNAL": str(journal)}
    one, two = Kernel(env), Kernel(env)
    try:
        for i in range(5):
            one.ok(f"# @A{i + 1}\n{i}", cell_id=f"one{i}", user="one")
            two.ok(f"# @B{i + 1}\n{i}", cell_id=f"two{i}", user="two")
    finally:
        one.stop()
        two.stop()
    three = Kernel(env)  # restarted on the same notebook
    try:
        three.ok("# @C1\n1", cell_id="three", user="three")
        assert "chain: valid" in three.ok("%sheet verify")
    finally:
        three.stop()
    rs = records(journal)
    assert [r["seq"] for r in rs] == list(range(1, 12))
    assert [r["user"] for r in rs] == ["one", "two"] * 5 + ["three"]
    assert chain_is_valid(journal)


def _tampered(journal: Path, change: str) -> list[bytes]:
    lines = journal.read_bytes().splitlines()
    if change == "edited":
        r = json.loads(lines[2])
        r["code"] = "# @A3\n999"
        lines[2] = json.dumps(r, separators=(",", ":")).encode()
    elif change == "removed":
        del lines[2]
    elif change == "reordered":
        lines[2], lines[3] = lines[3], lines[2]
    return lines


@pytest.mark.parametrize(
    "change, line, phrase",
    [("edited", 3, "record 3 was edited"), ("removed", 3, "record(s) 3 are missing"),
     ("reordered", 3, "record 4 comes before record 3")],
)
def test_verify_names_the_first_bad_record(
    journal: Path, change: str, line: int, phrase: str
) -> None:
    env = {"PYSHEETS_JOURNAL": str(journal)}
    k = Kernel(env)
    try:
        for i in range(1, 6):
            k.ok(f"# @A{i}\n{i}", cell_id=f"c{i}")
        good = k.ok("%sheet verify")
    finally:
        k.stop()
    head = hashlib.sha256(journal.read_bytes().splitlines()[-1]).hexdigest()
    assert "chain: valid" in good and f"head: {head}" in good
    journal.write_bytes(b"\n".join(_tampered(journal, change)) + b"\n")
    k = Kernel(env)
    try:
        text = k.ok("%sheet verify")
        assert f"BROKEN at line {line}" in text and phrase in text, text
        # asof refuses to replay a broken chain, and says where it breaks.
        reply, _ = k.run("%asof now A1")
        assert reply["content"]["status"] == "error"
        assert f"line {line}" in reply["content"]["evalue"], reply["content"]["evalue"]
    finally:
        k.stop()


# ---------------------------------------------------------------------------
# history, explain, diff, asof
# ---------------------------------------------------------------------------


def test_history_lists_every_version_with_who_and_when(kernel: Kernel) -> None:
    kernel.ok("# @A1\n100", cell_id="a", user="alice")
    kernel.ok("# @B7\nA1 + 1", cell_id="b", user="bob")
    kernel.ok("# @A1\n200", cell_id="a", user="alice")
    kernel.ok("# @B7\nA1 + 2", cell_id="b", user="carol")
    text = kernel.ok("%history B7", cell_id="h")
    lines = text.splitlines()
    assert lines[0] == "history of B7"
    body = lines[2:]
    assert len(body) == 3, text
    assert "bob" in body[0] and "edit" in body[0] and "101" in body[0]
    assert "alice" in body[1] and "recompute (A1)" in body[1] and "201" in body[1]
    assert "carol" in body[2] and "A1 + 2" in body[2] and "202" in body[2]
    data = kernel.ok(
        "h = sheet.history('B7')\n[(e['user'], e['kind'], e['value']) for e in h]", cell_id="p"
    )
    assert data == "[('bob', 'edit', '101'), ('alice', 'recompute', '201'), " \
                   "('carol', 'edit', '202')]"
    reply, _ = kernel.run("%history Z99", cell_id="z")
    assert reply["content"]["status"] == "error" and "Z99" in reply["content"]["evalue"]


def test_explain_shows_every_upstream_cell_with_its_editor(kernel: Kernel) -> None:
    kernel.ok("# @A1 units\n1000", cell_id="a", user="alice")
    kernel.ok("# @A2 price\n12", cell_id="b", user="bob")
    kernel.ok("# @A3 revenue\nA1 * A2", cell_id="c", user="carol")
    kernel.ok("# @B7 total\nA3 + A1", cell_id="d", user="dave")
    text = kernel.ok("%explain B7", cell_id="e")
    assert text.splitlines()[0] == "B7 total = 13000"
    for address, title, who in [("A1", "units", "alice"), ("A2", "price", "bob"),
                                ("A3", "revenue", "carol")]:
        assert f"{address} {title} = " in text, text
        assert f"edited by {who} at " in text
    assert "(see above)" in text  # A1 is read twice
    assert "ran 1×" in text
    reply, iopub = kernel.run("%explain B7", cell_id="e2")
    html = [m["content"]["data"].get("text/html") for m in iopub
            if m["msg_type"] == "display_data"][0]
    assert "<details" in html and "carol" in html
    reply, _ = kernel.run("%explain Q12", cell_id="e3")
    assert reply["content"]["status"] == "error" and "no cell at Q12" in reply["content"]["evalue"]


def test_diff_lists_exactly_the_changed_cells(kernel: Kernel) -> None:
    kernel.ok("# @A1\n1", cell_id="a")
    kernel.ok("# @A2\n2", cell_id="b")
    kernel.ok("# @A3\nA1 + A2", cell_id="c")
    kernel.ok("# @A4\n'same'", cell_id="d")
    t1 = stamp()
    kernel.ok("# @A1\n10", cell_id="a", user="erin")
    kernel.ok("# @A5\n5", cell_id="e", user="erin")
    t2 = stamp()
    kernel.ok("# @A2\n20", cell_id="b")
    result = kernel.ok(
        f"d = sheet.diff({t1!r}, {t2!r})\n"
        "([(c['address'], c['change'], c['by']) for c in d.code], "
        "[(v['address'], v['then'], v['now']) for v in d.values])",
        cell_id="p",
    )
    assert result == ("([('A1', 'changed', 'erin'), ('A5', 'added', 'erin')], "
                      "[('A1', '1', '10'), ('A3', '3', '12'), ('A5', 'absent', '5')])"), result
    text = kernel.ok(f"%diff {t1} {t2}", cell_id="q")
    assert "code changed:" in text and "erin" in text


def test_asof_evaluates_the_past_in_another_process_and_the_live_sheet_keeps_its_own(
    kernel: Kernel,
) -> None:
    kernel.ok("# @A1\n1", cell_id="a")
    kernel.ok("# @B1\nA1 * 10", cell_id="b")
    kernel.ok("# @C1\nimport os\nos.getpid()", cell_id="c")
    t = stamp()
    kernel.ok("# @A1\n5", cell_id="a", user="frank")
    result = kernel.ok(
        f"r = sheet.asof({t!r}, 'B1')\n(r.value('B1'), r.now['B1'], "
        "[c['address'] for c in r.code_changed], r.value('C1') != str(C1))",
        cell_id="p",
    )
    assert result == "('10', '50', ['A1'], True)", result
    text = kernel.ok(f"%asof {t} B1", cell_id="q")
    assert "B1" in text and "10" in text and "50" in text and "frank" in text
    # The live sheet is untouched.
    assert kernel.ok("# @D1\n(A1, B1)", cell_id="d") == "(5, 50)"


def test_back_testing_in_both_directions(kernel: Kernel) -> None:
    kernel.ok("# @A1 units\n100", cell_id="a")
    kernel.ok("# @B1\nA1 * 2", cell_id="b")
    t = stamp()
    kernel.ok("# @A1 units\n200", cell_id="a")
    kernel.ok("# @B1\nA1 * 3", cell_id="b")
    assert kernel.ok("B1", cell_id="x") == "600"
    old_formulas = kernel.ok(f"sheet.asof({t!r}, 'B1', inputs='now').value()", cell_id="p")
    new_formulas = kernel.ok(f"sheet.asof('now', 'B1', inputs={t!r}).value()", cell_id="q")
    assert (old_formulas, new_formulas) == ("'400'", "'300'")
    text = kernel.ok(f"%asof {t} B1 --inputs now", cell_id="r")
    assert "400" in text and "inputs of" in text


def test_times_before_the_journal_and_bad_times_are_clear_errors(kernel: Kernel) -> None:
    kernel.ok("# @A1\n1", cell_id="a")
    reply, _ = kernel.run("%asof 2001-01-01 A1", cell_id="b")
    assert "before the journal starts" in reply["content"]["evalue"]
    reply, _ = kernel.run("%asof soonish A1", cell_id="c")
    assert "is not a time" in reply["content"]["evalue"]
    time.sleep(1.2)
    kernel.ok("# @A1\n2", cell_id="a")
    text = kernel.ok("%diff 1 s ago now", cell_id="d")
    assert "A1" in text.split("code changed:")[1], text


def test_what_a_cell_reads_is_recorded_when_another_cell_takes_over_a_name(
    kernel: Kernel, journal: Path
) -> None:
    kernel.ok("# @A1\nx = 1", cell_id="a")
    kernel.ok("# @A2\ny = x + 1\ny", cell_id="b")
    kernel.ok("# @B1 override\nx = 5", cell_id="c", user="gus")  # B1 comes before A2
    batch = records(journal)[-1]
    [entry] = [c for c in batch["cells"] if c["address"] == "A2"]
    assert entry["reads"] == ["B1"] and entry["value"] == "6", batch
    text = kernel.ok("%explain A2", cell_id="e")
    assert "B1 override = " in text and "edited by gus" in text and "A1" not in text, text
    # A re-run that reads what it read before writes no `reads`.
    kernel.ok("# @B1 override\nx = 7", cell_id="c")
    [entry] = [c for c in records(journal)[-1]["cells"] if c["address"] == "A2"]
    assert "reads" not in entry and entry["value"] == "8"


def test_notebooks_sharing_one_journal_file_keep_their_own_history(journal: Path) -> None:
    one = Kernel({"PYSHEETS_JOURNAL": str(journal), "JPY_SESSION_NAME": "one.ipynb"})
    two = Kernel({"PYSHEETS_JOURNAL": str(journal), "JPY_SESSION_NAME": "two.ipynb"})
    try:
        one.ok("# @A1\n1", cell_id="a", user="ann")
        two.ok("# @A1\n2", cell_id="a", user="ben")
        two.ok("# @A1\n2", cell_id="a", user="cat")  # a run: ben stays its editor
        history = two.ok("[(e['user'], e['kind']) for e in sheet.history('A1')]", cell_id="h")
        assert history == "[('ben', 'edit'), ('cat', 'run')]", history
        assert "chain: valid" in one.ok("%sheet verify")
    finally:
        one.stop()
        two.stop()
    assert chain_is_valid(journal)
