"""The hash chain: pure functions, no database.

``row_hash = sha256(prev_hash | table | canonical values)``. The canonical values are the row's
columns in table order (``id`` and ``recorded_at`` included, ``prev_hash`` and ``row_hash``
excluded), as a compact JSON array, with each value in its storage form:

- an instant: naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (what SQLite stores, and what
  PostgreSQL reads into ``timestamp``),
- a JSON column: its canonical text (sorted keys, compact),
- booleans, integers, floats and text as themselves.

The writer computes these values once and sends the same ones to the database; the verifier
recomputes them from what the database returns, so a row verifies on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Table, Text

from .models import GENESIS, UTCDateTime

CHAIN_COLUMNS = ("prev_hash", "row_hash")


def instant_text(value: datetime) -> str:
    """The storage and hashing form of an instant: naive UTC with microseconds."""
    if not isinstance(value, datetime):
        raise ValueError(f"not an instant: {value!r}")
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the action log stores aware instants")
        value = value.astimezone(UTC)
    # isoformat of a UTC instant ends in +00:00: cut it (cheaper than replace(tzinfo=None))
    return value.isoformat(" ", "microseconds")[:26]


_DOCUMENT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_VALUES_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _not_storable(value: Any) -> Any:
    raise TypeError(f"cannot store {value!r} in the action log")


def _values_text_slow(values: Sequence[Any]) -> str:
    return _VALUES_ENCODER.encode(values)


try:  # the C encoder without the per-call Python wrapper: a third of the cost at ingest speed
    from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]

    _C_VALUES = c_make_encoder(
        None, _not_storable, c_encode_basestring, None, ":", ",", False, False, False
    )

    def _values_text(values: Sequence[Any]) -> str:
        return "".join(_C_VALUES(values, 0))

except (ImportError, TypeError):  # pragma: no cover - pure-Python json
    _values_text = _values_text_slow


def json_text(value: Any) -> str:
    return _DOCUMENT(value)


@dataclass(frozen=True)
class TableSpec:
    """What the chain needs to know about one table's columns."""

    name: str
    hashed: tuple[str, ...]  # every column but prev_hash and row_hash, in table order
    kinds: tuple[str, ...]  # per hashed column: instant, document, bool, float, int, str, any
    convert: Callable[[Mapping[str, Any], Mapping[str, Any]], list[Any]] = field(
        repr=False, compare=False
    )

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.hashed, *CHAIN_COLUMNS)

    @classmethod
    def of(cls, table: Table) -> TableSpec:
        hashed = tuple(c.name for c in table.columns if c.name not in CHAIN_COLUMNS)
        kinds = []
        for name in hashed:
            kind = table.columns[name].type
            if isinstance(kind, UTCDateTime):
                kinds.append("instant")
            elif isinstance(kind, JSON):
                kinds.append("document")
            elif isinstance(kind, Boolean):
                kinds.append("bool")
            elif isinstance(kind, Float):
                kinds.append("float")
            elif isinstance(kind, Integer):
                kinds.append("int")
            elif isinstance(kind, String | Text):
                kinds.append("str")
            else:
                kinds.append("any")
        return cls(table.name, hashed, tuple(kinds), _compile(hashed, kinds))

    def values(
        self, row: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """The canonical (storage) values of a row given as Python values, in ``hashed`` order.

        ``defaults`` fill the columns the row leaves out and must already be canonical (see
        :meth:`canonical_defaults`). Used for new rows (from the caller) and for stored rows
        (read back from the database) alike.
        """
        return self.convert(row, defaults or {})

    def canonical_defaults(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """Convert default values once per batch (e.g. the batch's recorded_at)."""
        values = self.convert(defaults, {})
        return {name: values[i] for i, name in enumerate(self.hashed) if name in defaults}


def _compile(
    hashed: Sequence[str], kinds: Sequence[str]
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], list[Any]]:
    """Build a straight-line converter for one table (ingest speed: no per-column loop)."""
    names = ", ".join(f"x{i}" for i in range(len(hashed)))
    lines = [
        "def convert(row, defaults):",
        "    # defaults are given in canonical form; the row's values are converted",
        f"    {names}, = pick({{**nones, **defaults, **row}})",
    ]
    for i, kind in enumerate(kinds):
        x = f"x{i}"
        if kind == "instant":
            lines.append(f"    if {x} is not None and {hashed[i]!r} in row:")
            lines.append(f"        {x} = instant_text({x})")
        elif kind == "document":
            lines.append(f"    if {x} is not None and {hashed[i]!r} in row:")
            lines.append(f"        {x} = json_text({x})")
        elif kind != "any":
            lines.append(f"    if {x} is not None and {x}.__class__ is not {kind}:")
            lines.append(f"        {x} = {kind}({x})")
    lines.append(f"    return [{names}]")
    namespace: dict[str, Any] = {
        "instant_text": instant_text,
        "json_text": json_text,
        "pick": itemgetter(*hashed),
        "nones": dict.fromkeys(hashed),
    }
    exec("\n".join(lines), namespace)  # trusted: built from the table definition above
    return namespace["convert"]  # type: ignore[no-any-return]


def row_hash(prev_hash: str, table: str, values: Sequence[Any]) -> str:
    text = _values_text(values)
    return hashlib.sha256(f"{prev_hash}|{table}|{text}".encode()).hexdigest()


def link(
    spec: TableSpec, rows: Iterable[list[Any]], last_id: int, last_hash: str
) -> tuple[list[list[Any]], int, str]:
    """Number and chain canonical value lists (whose ``id`` slot, position 0, is filled here).

    Each returned list is the row's values followed by prev_hash and row_hash, ready to insert.
    """
    if spec.hashed[0] != "id":
        raise ValueError(f"{spec.name}: the first column must be id")
    linked = []
    for values in rows:
        last_id += 1
        values[0] = last_id
        digest = row_hash(last_hash, spec.name, values)
        values.append(last_hash)
        values.append(digest)
        last_hash = digest
        linked.append(values)
    return linked, last_id, last_hash


@dataclass(frozen=True)
class Problem:
    table: str
    row_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.table} id {self.row_id}" if self.row_id is not None else self.table
        return f"{where}: {self.message}"


def check_chain(
    spec: TableSpec,
    rows: Iterable[Mapping[str, Any]],
    head_id: int,
    head_hash: str,
) -> tuple[int, list[Problem]]:
    """Walk stored ``rows`` in id order and report every break: edited, deleted, inserted."""
    table = spec.name
    problems: list[Problem] = []
    expected_id = 1
    prev_stored = GENESIS
    count = 0
    for row in rows:
        count += 1
        rid = int(row["id"])
        if rid > expected_id:
            gone = f"id {expected_id}" if rid == expected_id + 1 else f"ids {expected_id}-{rid - 1}"
            problems.append(Problem(table, rid, f"row(s) deleted before it ({gone} missing)"))
        elif row["prev_hash"] != prev_stored:
            problems.append(
                Problem(table, rid, f"prev_hash does not match row {rid - 1}: it was replaced")
            )
        if row_hash(row["prev_hash"], table, spec.values(row)) != row["row_hash"]:
            problems.append(Problem(table, rid, "content edited (row hash does not match)"))
        prev_stored = row["row_hash"]
        expected_id = rid + 1
    last_id = expected_id - 1
    if last_id < head_id:
        gone = f"id {head_id}" if head_id == last_id + 1 else f"ids {last_id + 1}-{head_id}"
        problems.append(Problem(table, None, f"newest row(s) deleted ({gone} missing)"))
    elif last_id > head_id:
        problems.append(
            Problem(table, last_id, f"rows after the chain head (id {head_id}) were inserted")
        )
    elif count and prev_stored != head_hash:
        problems.append(Problem(table, last_id, "newest row does not match the chain head"))
    return count, problems
