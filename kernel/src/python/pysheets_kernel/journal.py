"""The journal the kernel writes (Rust: kernel/src/core/journal/), read: its hash chain checked,
the sheet rebuilt as it stood at any time, and the times users type ("2h ago", "yesterday").

Each line is one JSON record; its `prev` is the SHA-256 (hex) of the line of the record before
it, 64 zeros for the first. A line that is not a record (a write cut short when a kernel was
killed) is reported and skipped; the chain goes on from the last whole record.
"""

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

GENESIS = "0" * 64


class JournalError(Exception):
    """The journal is missing, unreadable, or fails verification."""


class Journal:
    """The records of one journal file, in file order, with what verification found."""

    def __init__(self, path, records, lines, torn, bad, head):
        self.path = path
        self.records = records
        self.lines = lines  # the 1-based line number of each record
        self.torn = torn  # line numbers that are not whole records
        self.bad = bad  # None, or {"line", "seq", "reason"}: the first bad record
        self.head = head  # SHA-256 of the last record's line

    @property
    def ok(self):
        return self.bad is None

    def require_valid(self):
        if self.bad is not None:
            raise JournalError(
                f"the journal {self.path} fails verification at line {self.bad['line']} "
                f"(record {self.bad['seq']}): {self.bad['reason']}")

    def only(self, notebook):
        """The same journal seen from one notebook: the records that name it (a file may be
        shared by several notebooks' kernels)."""
        keep = [i for i, r in enumerate(self.records) if r.get("notebook") == notebook]
        view = Journal(self.path, [self.records[i] for i in keep], [self.lines[i] for i in keep],
                       self.torn, self.bad, self.head)
        return view

    def start(self):
        """The time of its first record, or None when it is empty."""
        return parse_time(self.records[0]["time"]) if self.records else None


def _is_record(v):
    return isinstance(v, dict) and isinstance(v.get("seq"), int) and isinstance(v.get("prev"), str)


def read(path):
    """Reads and verifies the journal at `path` (an empty one when the file does not exist)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise JournalError(f"the journal {path} cannot be read: {e}") from None
    parsed, torn = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line:
            continue
        try:
            v = json.loads(line)
        except ValueError:
            v = None
        if _is_record(v):
            parsed.append((number, line, v))
        else:
            torn.append(number)
    seqs = {v["seq"] for _, _, v in parsed}
    records, lines = [], []
    bad = None
    prev_hash, prev_seq, prev_line = GENESIS, 0, 0
    for number, line, v in parsed:
        if bad is None:
            bad = _check(v, number, prev_hash, prev_seq, prev_line, seqs)
        records.append(v)
        lines.append(number)
        prev_hash, prev_seq, prev_line = hashlib.sha256(line).hexdigest(), v["seq"], number
    return Journal(path, records, lines, torn, bad, prev_hash)


def _check(v, number, prev_hash, prev_seq, prev_line, seqs):
    seq = v["seq"]
    if seq <= prev_seq:
        return {"line": number, "seq": seq,
                "reason": f"record {seq} comes after record {prev_seq}: records were reordered"}
    if seq > prev_seq + 1 and prev_seq + 1 in seqs:
        return {"line": number, "seq": seq,
                "reason": f"record {seq} comes before record {prev_seq + 1}: records were "
                          "reordered"}
    if seq > prev_seq + 1:
        missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}–{seq - 1}"
        return {"line": number, "seq": seq,
                "reason": f"record(s) {missing} are missing before it: records were removed"}
    if v["prev"] != prev_hash:
        if prev_seq == 0:
            return {"line": number, "seq": seq,
                    "reason": "the first record does not start the chain: it was edited"}
        return {"line": prev_line, "seq": prev_seq,
                "reason": f"record {prev_seq} was edited (the next record, line {number}, "
                          f"carries another hash of it)"}
    return None


# --- Times -------------------------------------------------------------------------------

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hr": 3600, "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s+ago$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now():
    return datetime.now(timezone.utc)


def parse_time(text, at=None):
    """A time as users write it, as an aware UTC datetime: RFC 3339 (`2026-11-20T10:00Z`,
    offsets; no offset means UTC), a date (`2026-11-20`: the end of that day, the sheet as
    it stood that day), `now`, `today` (midnight UTC), `yesterday` (24 hours ago), and
    `N s|min|h|d|w ago`."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    at = at or now()
    t = str(text).strip().lower()
    if t == "now":
        return at
    if t == "today":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    if t == "yesterday":
        return at - timedelta(days=1)
    m = _AGO.match(t)
    if m:
        unit = _UNITS.get(m.group(2))
        if unit is None:
            raise ValueError(f"unknown unit {m.group(2)!r} in {text!r}: use s, min, h, d or w")
        return at - timedelta(seconds=float(m.group(1)) * unit)
    s = str(text).strip()
    if _DATE.match(s):
        day = datetime.fromisoformat(s).replace(tzinfo=timezone.utc)
        return day + timedelta(days=1) - timedelta(milliseconds=1)
    try:
        parsed = datetime.fromisoformat(s.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use RFC 3339 (2026-11-20T10:00Z), a date (2026-11-20), "
            "now, today, yesterday or '2h ago'") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- The sheet at a time -----------------------------------------------------------------

class CellState:
    """What the journal says of one cell at some time."""

    __slots__ = ("address", "cell", "title", "code", "reads", "editor", "edited", "status",
                 "value", "type", "error", "runs", "ms", "first_seq")

    def __init__(self, address, first_seq):
        self.address = address
        self.first_seq = first_seq
        self.cell = self.title = self.code = self.editor = self.edited = None
        self.reads = []
        self.status = self.value = self.type = self.error = None
        self.runs = 0
        self.ms = None

    def is_input(self):
        """Reads no other cell."""
        return not self.reads

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


def _ran(state, entry):
    state.status = entry.get("status", "ok")
    state.value = entry.get("value")
    state.type = entry.get("type")
    state.error = entry.get("error")
    state.ms = entry.get("ms")
    if "reads" in entry:
        state.reads = list(entry["reads"])
    state.runs += 1


def sheet_at(journal, t=None):
    """{address: CellState} as the journal says the sheet stood at `t` (default: now),
    in the order cells first appeared."""
    cells = {}
    for r in journal.records:
        if t is not None and parse_time(r["time"]) > t:
            continue
        kind = r.get("kind")
        address = r.get("address")
        if kind in ("edit", "run") and address:
            state = cells.get(address)
            if state is None:
                state = cells[address] = CellState(address, r["seq"])
            if kind == "edit":
                state.code = r.get("code")
                state.title = r.get("title")
                state.editor = r.get("user")
                state.edited = r.get("time")
            if r.get("cell"):
                state.cell = r["cell"]
            _ran(state, r)
        elif kind == "delete" and address:
            cells.pop(address, None)
        elif kind in ("recompute", "order"):
            for c in r.get("cells") or ():
                state = cells.get(c.get("address"))
                if state is not None:
                    _ran(state, c)
            for a in r.get("same") or ():
                if a in cells:
                    cells[a].runs += 1
            for a in r.get("stale") or ():
                if a in cells:
                    cells[a].status = "stale"
    # A cell whose code is unknown (its edit was before a journal that was cut) is left out.
    return {a: s for a, s in cells.items() if s.code is not None}


def entries_for(journal, address):
    """Every record (or recompute entry) about `address`, oldest first:
    `{seq, time, user, kind, code?, value, type, status, error, ms}`."""
    out = []
    for r in journal.records:
        kind = r.get("kind")
        base = {"seq": r["seq"], "time": r["time"], "user": r.get("user"), "kind": kind}
        if r.get("address") == address and kind in ("edit", "run", "delete", "error"):
            e = dict(base, code=r.get("code"), value=r.get("value"), type=r.get("type"),
                     status=r.get("status"), error=r.get("error"), ms=r.get("ms"))
            out.append(e)
        elif kind in ("recompute", "order"):
            for c in r.get("cells") or ():
                if c.get("address") == address:
                    out.append(dict(base, code=None, value=c.get("value"), type=c.get("type"),
                                    status=c.get("status", "ok"), error=c.get("error"),
                                    ms=c.get("ms"), cause=r.get("cause")))
            if address in (r.get("stale") or ()):
                out.append(dict(base, code=None, value=None, type=None, status="stale",
                                error=None, ms=None, cause=r.get("cause")))
    return out
