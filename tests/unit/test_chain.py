"""The writer's fast chain path (TableSpec.encode + link_batch) against the chain's definition.

The definition is what the verifier uses: ``row_hash(prev, table, spec.values(row, defaults))``.
Every row the writer links must carry exactly those values and that hash, or stored chains would
stop verifying; the golden hashes were computed by the implementation before the fast path.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from maintenance_runner.actionlog.chain import (
    GENESIS,
    Batch,
    _values_text,
    link_batch,
    row_hash,
)
from maintenance_runner.actionlog.store import SPECS

NOW = datetime(2026, 11, 12, 21, 0, tzinfo=UTC)


def reference(spec, rows, defaults, last_id=0, last_hash=GENESIS):
    """The definition: canonical values, then one row_hash per row, as the old writer did."""
    fill = spec.canonical_defaults(defaults)
    out = []
    for row in rows:
        unknown = set(row) - set(spec.hashed)
        if unknown:
            raise KeyError(f"{spec.name}: unknown column(s) {', '.join(sorted(unknown))}")
        values = spec.values(row, fill)
        last_id += 1
        values[0] = last_id
        digest = row_hash(last_hash, spec.name, values)
        out.append([*values, last_hash, digest])
        last_hash = digest
    return out


def fast(spec, rows, defaults, last_id=0, last_hash=GENESIS):
    batch = spec.encode(rows, spec.canonical_defaults(defaults))
    head = link_batch(spec, batch, last_id, last_hash)
    assert head == ((last_id + len(rows), batch.values[-1]) if rows else (last_id, last_hash))
    assert len(batch) == len(rows)
    assert len(batch.values) == len(rows) * len(spec.columns)
    return batch.rows()


def assert_same(got, want):
    assert got == want
    # == alone would let 1 == 1.0 == True through: the stored types must match too
    assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in want]


class Colour(enum.Enum):
    RED = "red"


class Text(str):
    pass


TEXTS = [
    "",
    "ok",
    'quote " and backslash \\',
    "tab\tnewline\ncarriage\rnul\x00 unit\x1f del\x7f",
    "ñandú ü €",
    "line sep \u2028 para \u2029",
    "astral \U0001f600",
    "x" * 300,
]
INSTANTS = [
    NOW,
    NOW.replace(microsecond=1),
    NOW.replace(microsecond=999_999),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Madrid")),
    datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Madrid")),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")),
]
FLOATS = [0.0, -0.0, 1.5, 0.1 + 0.2, 1e16, 1e-7, 123456789.123, -2.5e-300, 3, True, Decimal("2.25")]
DOCUMENTS = [{}, {"b": [1, 2.5, None], "a": {"z": True, "é": "\n"}}, [1, "x"], "text", 7, 0.5]


def sample(kind, rng, nullable):
    if nullable and rng.random() < 0.2:
        return None
    if kind == "str":
        return rng.choice([*TEXTS, Text("sub"), Colour.RED, 42])
    if kind == "int":
        return rng.choice([0, 1, 7, 2**40, -3, True, 2.0])
    if kind == "float":
        return rng.choice(FLOATS)
    if kind == "bool":
        return rng.choice([True, False, 0, 1, "", "yes"])
    if kind == "instant":
        return rng.choice(INSTANTS)
    if kind == "document":
        return rng.choice(DOCUMENTS)
    raise AssertionError(kind)


def random_rows(spec, rng, count, skip=()):
    table = {c.name: c for c in _table(spec).columns}
    rows = []
    for _ in range(count):
        row = {}
        for name, kind in zip(spec.hashed, spec.kinds, strict=True):
            if name == "id" or name in skip:
                continue
            row[name] = sample(kind, rng, table[name].nullable)
        rows.append(row)
    return rows


def _table(spec):
    from maintenance_runner.actionlog.models import CHAINED_TABLES

    return CHAINED_TABLES[spec.name]


@pytest.mark.parametrize("table", sorted(SPECS))
def test_every_table_links_exactly_as_the_definition(table):
    spec = SPECS[table]
    rng = random.Random(table)
    first_fk = next((n for n in spec.hashed[1:] if n.endswith("_id")), None)
    shapes = [{"recorded_at": NOW}]
    if first_fk:
        shapes.append({"recorded_at": NOW, first_fk: 3})
    for defaults in shapes:
        rows = random_rows(spec, rng, 300, skip=defaults)
        want = reference(spec, rows, defaults, 41, "ab" * 32)
        assert_same(fast(spec, rows, defaults, 41, "ab" * 32), want)


def test_golden_hashes_are_unchanged():
    """Computed by the writer before the fast path: existing databases must still verify."""
    spec = SPECS["task_results"]
    row = {
        "host": 'webñ"01',
        "task": "patching",
        "status": "changed",
        "changed": True,
        "started_at": datetime(2026, 11, 12, 21, 5, 0, 250000, tzinfo=UTC),
        "duration_s": 12.5,
        "message": "line\nnext",
        "diff_summary": None,
    }
    rows = fast(spec, [row, row], {"recorded_at": NOW, "run_id": 7})
    assert _values_text(rows[0][:-2]) == (
        '[1,7,"webñ\\"01","patching","changed",true,"2026-11-12 21:05:00.250000",12.5,'
        '"line\\nnext",null,"2026-11-12 21:00:00.000000"]'
    )
    assert rows[0][-2:] == [
        GENESIS,
        "b147578ad7a4392ec63dfbd53c3c52a78e4ca7f58d7eac2dfe847c956cac571a",
    ]
    assert rows[1][-1] == "09aa58f473e7aa3d780028bbf6197a4d7a4859461aebbf756822da5d4ffa2fb7"
    rollback = {"host": "h", "task": "t", "status": "done", "data": {"b": [1, 2.5], "a": "é"}}
    (stored,) = fast(SPECS["rollbacks"], [rollback], {"recorded_at": NOW, "run_id": 7})
    assert stored[-1] == "bb4b927dd7dd353be4f0167f7ae033c9d9b29820810e843d861ffb9ce92b5520"


def test_rows_of_other_shapes_keep_their_order_and_values():
    spec = SPECS["task_results"]
    full = random_rows(spec, random.Random(1), 6, skip=("run_id", "recorded_at"))
    short = {k: v for k, v in full[1].items() if k not in ("message", "diff_summary")}
    override = {**full[2], "run_id": 9, "recorded_at": NOW + timedelta(days=1)}
    with_id = {**full[3], "id": 999}
    given_none = {**full[4], "recorded_at": None}
    rows = [full[0], short, override, with_id, given_none, full[5]]
    defaults = {"recorded_at": NOW, "run_id": 3}
    got = fast(spec, rows, defaults)
    assert_same(got, reference(spec, rows, defaults))
    assert [r[0] for r in got] == [1, 2, 3, 4, 5, 6]
    assert got[1][spec.hashed.index("message")] is None
    assert got[2][1] == 9
    assert got[4][spec.hashed.index("recorded_at")] is None


def test_mappings_other_than_dicts_take_the_definitions_path():
    spec = SPECS["run_states"]
    defaults = {"recorded_at": NOW}
    # as many keys as the table's own columns, one of them unknown and one expected one missing:
    # a defaultdict must not invent the missing column and hide the unknown one
    sneaky = defaultdict(lambda: None, {"run_id": 1, "state": "done", "colour": "red"})
    with pytest.raises(KeyError, match="run_states: unknown column"):
        spec.encode([sneaky], spec.canonical_defaults(defaults))
    assert "message" not in sneaky
    rows = [MappingProxyType({"run_id": 1, "state": "done", "message": None})]
    assert_same(fast(spec, rows, defaults), reference(spec, rows, defaults))


def test_an_unknown_column_is_refused_by_name():
    spec = SPECS["plans"]
    rows = [{"plan_uid": "p1", "content_hash": "x"}, {"plan_uid": "p2", "colour": "red"}]
    with pytest.raises(KeyError, match="plans: unknown column"):
        spec.encode(rows, spec.canonical_defaults({"recorded_at": NOW}))
    # the same number of columns as the table takes, one of them unknown
    run = {"run_uid": "r", "occurrence_id": None, "plan_uid": None, "window": "w"}
    bad = {**run, "mode": "apply", "actor": None, "colour": NOW}
    with pytest.raises(KeyError, match="runs: unknown column"):
        SPECS["runs"].encode([bad], SPECS["runs"].canonical_defaults({"recorded_at": NOW}))


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("duration_s", float("nan"), ValueError),
        ("duration_s", float("inf"), ValueError),
        ("duration_s", -float("inf"), ValueError),
        ("duration_s", "fast", ValueError),
        ("started_at", datetime(2026, 1, 1), ValueError),  # naive
        ("started_at", date(2026, 1, 1), ValueError),
        ("started_at", "2026-01-01 00:00:00", ValueError),
        ("host", "lone surrogate \ud800", UnicodeEncodeError),
    ],
)
def test_values_the_definition_refuses_are_refused(column, value, error):
    spec = SPECS["task_results"]
    (row,) = random_rows(spec, random.Random(2), 1, skip=("run_id", "recorded_at"))
    row[column] = value
    defaults = {"recorded_at": NOW, "run_id": 1}
    with pytest.raises(error):
        reference(spec, [row], defaults)
    with pytest.raises(error):
        fast(spec, [row], defaults)


def test_link_batch_numbers_and_chains_after_the_head():
    spec = SPECS["run_states"]
    rows = [{"run_id": 1, "state": "running"}, {"run_id": 1, "state": "done", "message": "m"}]
    batch = spec.encode(rows, spec.canonical_defaults({"recorded_at": NOW}))
    assert isinstance(batch, Batch)
    assert batch.tails[0] == ',1,"running",null,"2026-11-12 21:00:00.000000"]'
    last_id, last_hash = link_batch(spec, batch, 10, "c" * 64)
    first, second = batch.rows()
    assert batch.rows(1) == [second]
    assert (first[0], second[0], last_id) == (11, 12, 12)
    assert first[-2] == "c" * 64
    assert second[-2] == first[-1]
    assert last_hash == second[-1] == row_hash(first[-1], "run_states", second[:-2])
    assert len(first) == len(spec.columns)


def test_an_empty_batch_moves_nothing():
    spec = SPECS["task_results"]
    batch = spec.encode([], spec.canonical_defaults({"recorded_at": NOW}))
    assert link_batch(spec, batch, 5, "d" * 64) == (5, "d" * 64)
