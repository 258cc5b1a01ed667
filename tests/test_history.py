"""The input history kept across restarts, through jupyter_client's history_request: a new
session number after every start, whatever the file's last lines look like."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_ok, execute, get_reply, start_kernel, stop_kernel

pytestmark = pytest.mark.pysheets_only  # the file and its place are PySheets'


def start_with_data_dir(data_dir: Path) -> tuple[Any, Any]:
    return start_kernel(env={"JUPYTER_DATA_DIR": str(data_dir)})


def tail(kc: Any, n: int = 10) -> list[list[Any]]:
    reply = get_reply(kc, kc.history(hist_access_type="tail", n=n, output=False, raw=True))
    assert reply["content"]["status"] == "ok"
    return reply["content"]["history"]


def test_a_long_last_entry_and_a_torn_line_lose_no_session_and_no_entry(tmp_path: Path) -> None:
    history = tmp_path / "pysheets" / "history.jsonl"
    history.parent.mkdir(parents=True)
    long_input = "x = '" + "y" * (200 << 10) + "'"
    # Session 7's last entry is over 64 KB, and a killed kernel left half a line after it.
    history.write_text(json.dumps([7, 1, long_input, None]) + "\n" + '[7,2,"cut sho')

    km, kc = start_with_data_dir(tmp_path)
    try:
        assert_ok(execute(kc, "first = 1")[0])
        assert_ok(execute(kc, "second = 2")[0])
        entries = tail(kc)
        assert entries[-2:] == [[8, 1, "first = 1"], [8, 2, "second = 2"]]
        assert [7, 1, long_input] in entries
    finally:
        stop_kernel(km, kc)

    km, kc = start_with_data_dir(tmp_path)
    try:
        assert_ok(execute(kc, "third = 3")[0])
        entries = tail(kc, 3)
        assert entries == [[8, 1, "first = 1"], [8, 2, "second = 2"], [9, 1, "third = 3"]]
        reply = get_reply(kc, kc.history(hist_access_type="range", session=-1, start=1,
                                         stop=None, output=False, raw=True))
        assert reply["content"]["history"] == [[8, 1, "first = 1"], [8, 2, "second = 2"]]
    finally:
        stop_kernel(km, kc)
