"""Reading the journal: the chain checks and the times users type (pysheets_kernel.journal)."""

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from . import journal

AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("now", AT),
    ("2h ago", AT - timedelta(hours=2)),
    ("30 min ago", AT - timedelta(minutes=30)),
    ("3 days ago", AT - timedelta(days=3)),
    ("1 w ago", AT - timedelta(weeks=1)),
    ("90 seconds ago", AT - timedelta(seconds=90)),
    ("yesterday", AT - timedelta(days=1)),
    ("today", datetime(2026, 12, 1, tzinfo=timezone.utc)),
    ("2026-11-20T10:00Z", datetime(2026, 11, 20, 10, tzinfo=timezone.utc)),
    ("2026-11-20T10:00:00.250+01:00",
     datetime(2026, 11, 20, 9, 0, 0, 250000, tzinfo=timezone.utc)),
    ("2026-11-20T10:00", datetime(2026, 11, 20, 10, tzinfo=timezone.utc)),
    ("2026-11-20", datetime(2026, 11, 20, 23, 59, 59, 999000, tzinfo=timezone.utc)),
])
def test_times_users_type(text, expected):
    assert journal.parse_time(text, at=AT) == expected


@pytest.mark.parametrize("text", ["soon", "2 fortnights ago", "2026-13-01", ""])
def test_what_is_not_a_time_says_so(text):
    with pytest.raises(ValueError):
        journal.parse_time(text, at=AT)


def _write(path, bodies):
    prev, lines = journal.GENESIS, []
    for seq, body in enumerate(bodies, start=1):
        line = json.dumps(dict(body, seq=seq, prev=prev), separators=(",", ":")).encode()
        lines.append(line)
        prev = hashlib.sha256(line).hexdigest()
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def _edit(address, code, t="2026-12-01T10:00:00.000Z", user="u", reads=()):
    return {"kind": "edit", "time": t, "user": user, "address": address, "code": code,
            "status": "ok", "value": code, "reads": list(reads)}


def test_a_valid_chain_and_its_head(tmp_path):
    path = tmp_path / "j.jsonl"
    lines = _write(path, [_edit("A1", "1"), _edit("A2", "2")])
    j = journal.read(path)
    assert j.ok and j.torn == [] and len(j.records) == 2
    assert j.head == hashlib.sha256(lines[-1]).hexdigest()


def test_the_first_record_edited_is_found(tmp_path):
    path = tmp_path / "j.jsonl"
    lines = _write(path, [_edit("A1", "1"), _edit("A2", "2")])
    lines[0] = lines[0].replace(b'"code":"1"', b'"code":"7"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    j = journal.read(path)
    assert j.bad["line"] == 1 and "record 1 was edited" in j.bad["reason"]
    with pytest.raises(journal.JournalError, match="line 1"):
        j.require_valid()


def test_the_first_records_removed_are_found(tmp_path):
    path = tmp_path / "j.jsonl"
    lines = _write(path, [_edit("A1", "1"), _edit("A2", "2"), _edit("A3", "3")])
    path.write_bytes(b"\n".join(lines[1:]) + b"\n")
    j = journal.read(path)
    assert j.bad["seq"] == 2 and "missing" in j.bad["reason"]


def test_a_torn_line_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "j.jsonl"
    _write(path, [_edit("A1", "1")])
    with open(path, "ab") as f:
        f.write(b'{"seq":2,"ki')
    j = journal.read(path)
    assert j.ok and j.torn == [2] and len(j.records) == 1


def test_the_sheet_at_a_time(tmp_path):
    path = tmp_path / "j.jsonl"
    _write(path, [
        _edit("A1", "1", "2026-12-01T10:00:00.000Z", "ann"),
        _edit("B1", "A1*2", "2026-12-01T10:00:01.000Z", "bob", ["A1"]),
        _edit("A1", "5", "2026-12-01T11:00:00.000Z", "cy"),
        {"kind": "recompute", "time": "2026-12-01T11:00:00.000Z", "user": "cy", "cause": "A1",
         "cells": [{"address": "B1", "type": "int", "value": "10", "ms": 0.1}]},
        {"kind": "delete", "time": "2026-12-01T12:00:00.000Z", "user": "cy", "address": "B1"},
    ])
    j = journal.read(path)
    early = journal.sheet_at(j, journal.parse_time("2026-12-01T10:30Z"))
    assert {a: s.code for a, s in early.items()} == {"A1": "1", "B1": "A1*2"}
    assert early["B1"].editor == "bob" and early["B1"].reads == ["A1"]
    later = journal.sheet_at(j, journal.parse_time("2026-12-01T11:30Z"))
    assert later["A1"].code == "5" and later["B1"].value == "10" and later["B1"].runs == 2
    assert later["B1"].editor == "bob"  # a recompute is not an edit
    assert list(journal.sheet_at(j)) == ["A1"]
    entries = journal.entries_for(j, "B1")
    assert [e["kind"] for e in entries] == ["edit", "recompute", "delete"]
