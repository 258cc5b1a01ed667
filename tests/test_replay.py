"""`pysheets replay`: cells as JSON on stdin, their states and values as JSON on stdout.

Black-box: each test runs the installed kernel (`python -m pysheets_kernel replay` with the
venv's Python, as the other tests) and compares the values the sheet gives.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import KERNEL_CMD
from conftest import clean_env

pytestmark = pytest.mark.pysheets_only

TIMEOUT = 60


def run_replay(stdin: str, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    argv = [*KERNEL_CMD, "replay", *args]
    try:
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=clean_env()
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"replay still running after {timeout} s: {e}")


def replay(cells: list[dict[str, Any]]) -> tuple[dict[str, dict[str, str]], str]:
    """Replays `cells`; returns (the result's cells by address, stderr). The run must succeed
    and its stdout must be exactly one JSON document."""
    res = run_replay(json.dumps({"cells": cells}))
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    assert "panicked" not in res.stderr, res.stderr
    result = json.loads(res.stdout)  # the whole of stdout: nothing else may be there
    assert list(result) == ["cells"], result
    return result["cells"], res.stderr


def cells_at(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"address": a, "code": code} for a, code in pairs]


def test_numbers_and_names_across_cells() -> None:
    got, _ = replay(
        [
            {"address": "A1", "code": "# @A1 base\n10"},
            {"address": "A2", "code": "# @A2 tripled\nA1 * 3"},
            {"address": "B1", "code": "x = 1", "cellId": "def-x"},
            {"address": "B2", "code": "x * 2", "cellId": "use-x"},
            {"address": "B3", "code": "A2 + x"},
        ]
    )
    assert got == {
        "A1": {"state": "ok", "value": "10"},
        "A2": {"state": "ok", "value": "30"},
        "B1": {"state": "ok", "value": "1"},
        "B2": {"state": "ok", "value": "2"},
        "B3": {"state": "ok", "value": "31"},
    }
    assert list(got) == ["A1", "A2", "B1", "B2", "B3"], "cells come out in notebook order"


def test_a_label_gives_the_address_when_none_is_given() -> None:
    got, _ = replay([{"code": "# @C4 total\n2 + 2"}, {"code": "C4 * 10"}])
    assert got == {"C4": {"state": "ok", "value": "4"}, "A1": {"state": "ok", "value": "40"}}


def test_a_range() -> None:
    got, _ = replay(cells_at(("A1", "1"), ("A2", "2"), ("A3", "3.5"), ("B1", "sum(A1:A3)")))
    assert got["B1"] == {"state": "ok", "value": "6.5"}


def test_names_resolve_in_the_notebook_order() -> None:
    # By address B5 comes before A9 and would be the definer A9 reads; in the notebook C1 is.
    got, _ = replay(cells_at(("C1", "x = 1"), ("A9", "x * 10"), ("B5", "x = 2")))
    assert got["A9"] == {"state": "ok", "value": "10"}


def test_a_forward_reference_resolves_by_a_rerun() -> None:
    got, _ = replay(cells_at(("A1", "B1 + 1"), ("B1", "41"), ("C1", "A1 * 2")))
    assert got == {
        "A1": {"state": "ok", "value": "42"},
        "B1": {"state": "ok", "value": "41"},
        "C1": {"state": "ok", "value": "84"},
    }


def test_a_failing_cell_and_its_upstream_error_reader() -> None:
    got, _ = replay(cells_at(("A1", "1 / 0"), ("A2", "A1 + 1"), ("A3", "7")))
    assert got["A1"]["state"] == "error"
    assert got["A1"]["error"] == "ZeroDivisionError: division by zero"
    assert got["A2"]["state"] == "upstream-error"
    assert "ZeroDivisionError" in got["A2"]["error"]
    assert got["A3"] == {"state": "ok", "value": "7"}, "a failure does not stop the replay"


def test_a_cycle() -> None:
    got, _ = replay(cells_at(("A1", "B1 + 1"), ("B1", "A1 + 1"), ("C1", "B1 * 2"), ("D1", "5")))
    for address in ("A1", "B1"):
        assert got[address]["state"] == "error", got
        assert "circular reference" in got[address]["error"], got
    assert got["C1"]["state"] == "upstream-error", got
    assert got["D1"] == {"state": "ok", "value": "5"}


def test_a_syntax_error() -> None:
    got, _ = replay(cells_at(("A1", "def (:"), ("A2", "'still here'")))
    assert got["A1"]["state"] == "error"
    assert got["A1"]["error"].startswith("SyntaxError: "), got
    assert got["A2"] == {"state": "ok", "value": "still here"}


def test_a_pandas_dataframe_shows_its_summary() -> None:
    got, _ = replay(
        cells_at(
            ("A1", "import pandas as pd\npd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6]})"),
            ("A2", "int(A1['b'].sum())"),
            ("A3", "A1[A1.a > 1]"),
        )
    )
    assert got["A1"] == {"state": "ok", "value": "DataFrame 3×2"}
    assert got["A2"] == {"state": "ok", "value": "15"}
    assert got["A3"] == {"state": "ok", "value": "DataFrame 2×2"}


def test_output_of_cells_goes_to_stderr_and_stdout_stays_one_document() -> None:
    got, stderr = replay(
        cells_at(
            ("A1", "print('from python')\n1"),
            ("A2", "import os\nos.system('echo from-c')"),
            ("A3", "import subprocess\nsubprocess.run(['echo', 'from-sub']).returncode"),
            ("A4", "import sys, os\nos.write(1, b'raw fd 1\\n')\nsys.__stdout__.write('dunder\\n')"),
            ("A5", "import ctypes\nctypes.CDLL(None).printf(b'printf %d\\n', 7)"),
        )
    )
    assert got["A1"] == {"state": "ok", "value": "1"}
    assert got["A2"] == {"state": "ok", "value": "0"}
    assert got["A3"] == {"state": "ok", "value": "0"}
    assert got["A5"] == {"state": "ok", "value": "9"}
    for text in ("from python", "from-c", "from-sub", "raw fd 1", "dunder", "printf 7"):
        assert text in stderr, f"{text!r} not on stderr: {stderr!r}"


def test_input_fails_clearly() -> None:
    started = time.monotonic()
    got, _ = replay(cells_at(("A1", "name = input('name? ')\nname"), ("A2", "A1 + '!'"), ("A3", "3")))
    assert time.monotonic() - started < 20, "input() must not wait"
    assert got["A1"]["state"] == "error"
    assert got["A1"]["error"] == (
        "RuntimeError: input() is not available in a replay: there is no frontend to answer it"
    )
    assert got["A2"]["state"] == "upstream-error"
    assert got["A3"] == {"state": "ok", "value": "3"}


def test_an_interrupt_stops_the_replay_and_leaves_the_rest_stale() -> None:
    cells = cells_at(
        ("A1", "1"),
        ("A2", "import sys, time\nprint('sleeping', file=sys.stderr, flush=True)\ntime.sleep(30)"),
        ("A3", "A1 + 1"),
    )
    proc = subprocess.Popen(
        [*KERNEL_CMD, "replay"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_env(),
    )
    try:
        assert proc.stdin and proc.stderr
        proc.stdin.write(json.dumps({"cells": cells}))
        proc.stdin.close()
        seen = ""
        while "sleeping" not in seen:
            line = proc.stderr.readline()
            assert line, f"replay ended before the cell ran: {seen!r}"
            seen += line
        proc.send_signal(signal.SIGINT)
        # Closed stdin is not communicate()'s to flush.
        proc.stdin = None
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    got = json.loads(stdout)["cells"]
    assert got["A1"] == {"state": "ok", "value": "1"}
    assert got["A2"]["state"] == "error"
    assert got["A2"]["error"].startswith("KeyboardInterrupt"), got
    assert got["A3"] == {"state": "stale", "value": ""}


def test_a_long_chain() -> None:
    cells = [{"address": "A1", "code": "1"}] + [
        {"address": f"A{n}", "code": f"A{n - 1} + 1"} for n in range(2, 301)
    ]
    got, _ = replay(cells)
    assert len(got) == 300
    assert got["A300"] == {"state": "ok", "value": "300"}


@pytest.mark.parametrize(
    "stdin, says",
    [
        ("", "not a replay document"),
        ("{not json", "not a replay document"),
        ("[]", "not a replay document"),
        ('{"cells": 3}', "not a replay document"),
        ('{"cells": [{"address": "A1"}]}', "missing field `code`"),
        ('{"cells": [{"address": "A1", "code": "1", "colour": "red"}]}', "unknown field"),
        ('{"cells": [{"address": "a1", "code": "1"}]}', "malformed cell address"),
        (
            '{"cells": [{"address": "A1", "code": "1"}, {"address": "A1", "code": "2"}]}',
            "have the address A1",
        ),
    ],
    ids=["empty", "bad-json", "not-object", "cells-not-list", "no-code", "unknown-field",
         "bad-address", "duplicate-address"],
)
def test_malformed_input_is_exit_2(stdin: str, says: str) -> None:
    res = run_replay(stdin)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert says in res.stderr, res.stderr
    assert res.stdout == "", "nothing on stdout when there is no result"
    assert "panicked" not in res.stderr


def test_help_says_where_cell_output_goes() -> None:
    res = subprocess.run([*KERNEL_CMD, "replay", "--help"], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert "stdin" in res.stdout and "stderr" in res.stdout and "Exit status" in res.stdout
