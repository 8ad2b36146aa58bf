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

:func:`row_hash` over :meth:`TableSpec.values` is the definition; the verifier uses it. The
writer's path (:meth:`TableSpec.encode`, then :func:`link_batch`) produces the same bytes faster:
a straight-line encoder compiled per table and batch shape converts each row and writes the JSON
text of everything after ``id`` in the same pass, so that linking a row is one f-string and one
SHA-256 call. Rows of another shape take the definition's path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Table, Text

from maintenance_runner.actionlog.models import GENESIS, UTCDateTime

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


def row_hash(prev_hash: str, table: str, values: Sequence[Any]) -> str:
    """The definition of a row's hash (``values`` as :meth:`TableSpec.values` gives them)."""
    text = _values_text(values)
    return hashlib.sha256(f"{prev_hash}|{table}|{text}".encode()).hexdigest()


@dataclass
class Batch:
    """Rows encoded for the chain, not yet linked (see :meth:`TableSpec.encode`).

    ``values`` holds every row's canonical values back to back (``width`` of them per row, in
    ``TableSpec.columns`` order), with the id, prev_hash and row_hash slots (first, last but one,
    last) empty until :func:`link_batch` fills them. One flat list rather than a list per row:
    it is what a multi-row INSERT takes, and it spares the garbage collector ten thousand
    containers per batch (about a microsecond per row). A row's ``tails`` entry is the canonical
    JSON text of its values after the id, ``,v1,...,vn]``: its whole text is ``[`` + id + tail.
    """

    width: int
    values: list[Any]
    tails: list[str]

    def __len__(self) -> int:
        return len(self.tails)

    def rows(self, first: int = 0) -> list[list[Any]]:
        """The rows from ``first`` on, one list each (for COPY and executemany)."""
        values, width = self.values, self.width
        return [values[i : i + width] for i in range(first * width, len(values), width)]


Encoder = Callable[[Sequence[Mapping[str, Any]], Sequence[Any], Sequence[str]], Batch]


@dataclass(frozen=True)
class TableSpec:
    """What the chain needs to know about one table's columns."""

    name: str
    hashed: tuple[str, ...]  # every column but prev_hash and row_hash, in table order
    kinds: tuple[str, ...]  # per hashed column: instant, document, bool, float, int, str, any
    convert: Callable[[Mapping[str, Any], Mapping[str, Any]], list[Any]] = field(
        repr=False, compare=False
    )
    # compiled encoders by the batch's default columns (see encode)
    _encoders: dict[tuple[str, ...], Encoder] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.hashed, *CHAIN_COLUMNS)

    @classmethod
    def of(cls, table: Table) -> TableSpec:
        hashed = tuple(c.name for c in table.columns if c.name not in CHAIN_COLUMNS)
        if len(hashed) < 2 or hashed[0] != "id":
            raise ValueError(f"{table.name}: the first column must be id, and others must follow")
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

    def encode(self, rows: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any]) -> Batch:
        """Convert and encode new rows for :func:`link_batch`; ``defaults`` as for :meth:`values`.

        Raises KeyError naming the table when a row has a column the table does not.
        """
        fill = {name: value for name, value in defaults.items() if name in self.hashed[1:]}
        shape = tuple(name for name in self.hashed if name in fill)
        encoder = self._encoders.get(shape)
        if encoder is None:
            encoder = self._encoders[shape] = _compile_encoder(self, shape)
        values = [fill[name] for name in shape]
        return encoder(rows, values, [_values_text((value,))[1:-1] for value in values])

    def encode_row(self, row: Mapping[str, Any], fill: Mapping[str, Any]) -> tuple[list[Any], str]:
        """One row the definition's way: its ``width`` slots (as in :class:`Batch`), its tail."""
        known = self.hashed
        if not set(known).issuperset(row):
            unknown = ", ".join(sorted(set(row) - set(known)))
            raise KeyError(f"{self.name}: unknown column(s) {unknown}")
        values = self.convert(row, fill)
        tail = "," + _values_text(values[1:])[1:]
        values[0] = None
        values.append(None)
        values.append(None)
        return values, tail


def _compile(
    hashed: Sequence[str], kinds: Sequence[str]
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], list[Any]]:
    """Build a straight-line converter for one table (no per-column loop)."""
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


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))

# How the encoder turns a column's value x (as the row gives it) into its canonical value x and
# its JSON text p, exactly as _values_text(convert(...)) would: every kind keeps the definition's
# conversions (str(x), int(x), ... when the class differs) and its None.
_ENCODE_KIND: dict[str, tuple[str, ...]] = {
    "str": (
        "if x.__class__ is str:",
        "    p = enc(x)",
        "elif x is None:",
        '    p = "null"',
        "else:",
        "    x = str(x)",
        "    p = enc(x)",
    ),
    "int": (
        "if x.__class__ is not int and x is not None:",
        "    x = int(x)",
        'p = "null" if x is None else x',
    ),
    "float": (
        "if x.__class__ is not float and x is not None:",
        "    x = float(x)",
        "if x is None:",
        '    p = "null"',
        "elif x - x:  # nan or infinite (finite: 0.0), as the C encoder with allow_nan=False",
        '    raise ValueError("Out of range float values are not JSON compliant")',
        "else:",
        '    p = f"{x!r}"',
    ),
    "bool": (
        "if x is True:",
        '    p = "true"',
        "elif x is False:",
        '    p = "false"',
        "elif x is None:",
        '    p = "null"',
        "else:",
        "    x = bool(x)",
        '    p = "true" if x else "false"',
    ),
    # The common case, an aware datetime in UTC, is formatted here: isoformat is the slowest call.
    "instant": (
        "if x.__class__ is datetime and x.tzinfo is UTC and x.year > 999:",
        "    us = x.microsecond",
        "    x = (",
        '        f"{x.year}-{two[x.month]}-{two[x.day]} "',
        '        f"{two[x.hour]}:{two[x.minute]}:{two[x.second]}."',
        '        f"{three[us // 1000]}{three[us % 1000]}"',
        "    )",
        "    p = f'\"{x}\"'",
        "elif x is None:",
        '    p = "null"',
        "else:",
        "    x = instant_text(x)",
        "    p = enc(x)",
    ),
    "document": (
        "if x is None:",
        '    p = "null"',
        "else:",
        "    x = json_text(x)",
        "    p = enc(x)",
    ),
    "any": ("p = any_text((x,))[1:-1]",),
}


def _compile_encoder(spec: TableSpec, shape: tuple[str, ...]) -> Encoder:
    """Build the batch encoder for rows that give exactly the columns not in ``shape``.

    ``shape`` names the columns the batch's defaults fill (in ``hashed`` order); the encoder takes
    their canonical values and JSON texts. A row with other columns (fewer, more, or one of the
    defaults), or that is not a plain dict (a ``defaultdict`` would invent the columns it lacks),
    is encoded the definition's way (:meth:`TableSpec.encode_row`), one at a time.
    """
    own = [i for i, name in enumerate(spec.hashed) if i and name not in shape]
    filled = [spec.hashed.index(name) for name in shape]
    lines = [
        "def encode(rows, fill, fill_text):",
        *(f"    d{i}, t{i} = fill[{k}], fill_text[{k}]" for k, i in enumerate(filled)),
        "    fill_map = dict(zip(shape, fill))",
        "    out = []",
        "    tails = []",
        "    add_tail = tails.append",
        "    for row in rows:",
        f"        if row.__class__ is not dict or len(row) != {len(own)}:",
        "            values, tail = encode_row(row, fill_map)",
        "            out += values",
        "            add_tail(tail)",
        "            continue",
        "        try:",
        *(f"            x{i} = row[{spec.hashed[i]!r}]" for i in own),
        "        except KeyError:",
        "            values, tail = encode_row(row, fill_map)",
        "            out += values",
        "            add_tail(tail)",
        "            continue",
    ]
    for i in own:
        for line in _ENCODE_KIND[spec.kinds[i]]:
            line = re.sub(r"\bx\b", f"x{i}", line)
            lines.append("        " + re.sub(r"\bp\b", f"p{i}", line))
    slots = ", ".join(f"x{i}" if i in own else f"d{i}" for i in range(1, len(spec.hashed)))
    texts = ",".join(f"{{p{i}}}" if i in own else f"{{t{i}}}" for i in range(1, len(spec.hashed)))
    lines.append(f"        out += (None, {slots}, None, None)")
    lines.append(f'        add_tail(f",{texts}]")')
    lines.append(f"    return Batch({len(spec.columns)}, out, tails)")
    namespace: dict[str, Any] = {
        "Batch": Batch,
        "UTC": UTC,
        "datetime": datetime,
        "any_text": _values_text,
        "enc": encode_basestring,
        "encode_row": spec.encode_row,
        "instant_text": instant_text,
        "json_text": json_text,
        "shape": shape,
        "three": _THREE_DIGITS,
        "two": _TWO_DIGITS,
    }
    exec("\n".join(lines), namespace)  # trusted: built from the table definition above
    return namespace["encode"]  # type: ignore[no-any-return]


def link_batch(spec: TableSpec, batch: Batch, last_id: int, last_hash: str) -> tuple[int, str]:
    """Number and chain an encoded batch in place after the chain head; return the new head."""
    sha256 = hashlib.sha256
    middle = f"|{spec.name}|["
    values, width = batch.values, batch.width
    if width != len(spec.columns) or len(values) != width * len(batch.tails):
        raise ValueError(f"{spec.name}: the batch is not {len(batch.tails)} rows of {width}")
    for at, tail in zip(range(0, len(values), width), batch.tails, strict=True):
        last_id += 1
        values[at] = last_id
        values[at + width - 2] = last_hash
        last_hash = sha256(f"{last_hash}{middle}{last_id}{tail}".encode()).hexdigest()
        values[at + width - 1] = last_hash
    return last_id, last_hash


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
