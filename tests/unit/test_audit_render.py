"""The onboarding audit's files: CSV, JSON, Markdown and HTML from a real lab sample."""

import csv
import io
import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from maintenance_runner.audit import model as am
from maintenance_runner.audit import render as ar
from maintenance_runner.audit.events import gathered_facts, unreachable_hosts
from maintenance_runner.audit.roadmap import BUCKETS, FIX_NOW
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.results import SEVERITIES, TaskResult, collect_results

SAMPLES = Path(__file__).parent / "samples" / "audit"
TASKS = ("access_review", "antivirus", "backup_verify", "hardening", "patching")
LAB_HOST = "maint-audit-dev-1"
CLOCK = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


def lab_audit(extra_results=()):
    stream = json.loads((SAMPLES / "lab-check-run.json").read_text())
    return am.build_audit(
        gathered_facts(stream),
        [*collect_results(stream), *extra_results],
        unreachable_hosts(stream),
        TASKS,
        CLOCK,
    )


def hostile_result():
    """A result whose text tries to break out of CSV, Markdown and HTML."""
    return TaskResult.from_fact(
        LAB_HOST,
        {
            "task": "access_review",
            "status": "ok",
            "findings": [
                {
                    "id": "access_review.unapproved_user",
                    "severity": "high",
                    "message": "account <script>alert(1)</script> | not approved",
                    "recommendation": '=HYPERLINK("http://x")',
                }
            ],
            "data": {"admin_members": {"sudo": ["=cmd|' /C calc'!A0"]}},
        },
    )


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_register_csv_has_one_row_per_host_with_the_register_columns():
    audit = lab_audit()
    rows = {r["host"]: r for r in parse_csv(ar.render_register_csv(audit))}
    assert set(rows) == {"db-old", LAB_HOST}
    lab = rows[LAB_HOST]
    assert lab["reachable"] == "yes"
    assert lab["os"] == "Debian 12.15 (bookworm)"
    assert lab["kernel"] == "6.18.44-fc-v782"
    assert (lab["cpu_model"], lab["cpu_cores"], lab["memory_mb"]) == ("AMD EPYC", "2", "24105")
    assert lab["disks"].startswith("/srv/maint-fixture ") and "% used" in lab["disks"]
    assert (lab["pending_updates"], lab["security_updates"]) == ("2", "1")
    assert lab["antivirus"] == "not installed (ClamAV)"
    assert lab["av_definitions_age_days"] == ""  # unknown, not zero
    assert lab["backup_state"] == "not configured"
    assert lab["hardening_score"] == "10.0"
    assert lab["admin_accounts"] == "maint (sudo ALL, no password); root (uid 0, sudo ALL)"
    assert lab["task_hardening"] == "changed"
    old = rows["db-old"]
    assert old["reachable"] == "no"
    assert "Connection refused" in old["reason"]
    assert old["os"] == "" and old["task_patching"] == "not run"
    assert old["findings_high"] == "1"


def test_csv_cells_never_start_a_spreadsheet_formula():
    audit = lab_audit([hostile_result()])
    register = parse_csv(ar.render_register_csv(audit))
    admins = next(r["admin_accounts"] for r in register if r["host"] == LAB_HOST)
    assert admins.startswith("'=cmd|")  # quoted: a spreadsheet shows it as text
    roadmap = parse_csv(ar.render_roadmap_csv(audit))
    (row,) = [r for r in roadmap if r["finding_id"] == "access_review.unapproved_user"]
    assert row["recommendation"] == '\'=HYPERLINK("http://x")'


def test_register_json_keeps_the_nested_values():
    document = json.loads(ar.render_register_json(lab_audit()))
    assert document["generated_at"] == "2026-11-24T09:00:00+00:00"
    assert document["tasks"] == list(TASKS)
    hosts = {h["host"]: h for h in document["hosts"]}
    lab = hosts[LAB_HOST]
    assert lab["disks"][0]["mount"] == "/srv/maint-fixture"
    assert lab["admin_accounts"][0] == {"name": "maint", "via": ["sudo ALL"], "nopasswd": True}
    assert lab["memory_mb"] == 24105
    assert hosts["db-old"]["reachable"] is False and hosts["db-old"]["os"] is None


def test_risks_md_lists_notes_most_severe_first():
    text = ar.render_risks_md(lab_audit())
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## 1. [HIGH] Hosts that could not be audited (1 host)"
    order = [h.split("[", 1)[1].split("]")[0].lower() for h in headings]
    ranks = [SEVERITIES.index(s) for s in order]
    assert ranks == sorted(ranks, reverse=True)
    assert "What to do: Give the maintenance account SSH" in text
    assert "2 hosts in scope, 1 audited; 1 could not be audited" in text


def test_roadmap_md_and_csv_sort_every_finding_into_a_bucket():
    audit = lab_audit()
    text = ar.render_roadmap_md(audit)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Fix now (1 finding(s) on hosts)",
        "## Enters the preventive cycle (35 finding(s) on hosts)",
        "## Separate project (2 finding(s) on hosts)",
    ]
    rows = parse_csv(ar.render_roadmap_csv(audit))
    assert len(rows) == len(audit.findings)  # one row per host and finding
    assert [r["finding_id"] for r in rows if r["bucket"] == FIX_NOW] == ["audit.unreachable"]
    assert {r["bucket"] for r in rows} == set(BUCKETS)


def test_markdown_table_cells_escape_pipes():
    text = ar.render_roadmap_md(lab_audit([hostile_result()]))
    (line,) = [ln for ln in text.splitlines() if "access_review.unapproved_user" in ln]
    assert line.count(" | ") == 4  # five cells: the pipe in the title is escaped
    text = ar.render_risks_md(lab_audit([hostile_result()]))
    assert "account <script>alert(1)</script> \\| not approved" in text


def test_html_is_one_page_with_charts_tables_and_escaped_text():
    page = ar.render_html(lab_audit([hostile_result()]))
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert parser.tags.count("svg") == 2  # findings by severity, by roadmap bucket
    assert parser.tags.count("table") >= 5  # risks, three roadmap buckets, register
    text = " ".join(parser.text)
    for heading in ("Risk notes", "Roadmap", "Asset register", "Fix now", "Separate project"):
        assert heading in text
    assert "not audited" in text and "Connection refused" in text
    assert "Debian 12.15 (bookworm)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "=HYPERLINK(&quot;http://x&quot;)", ""
    )  # no external resource


def test_write_audit_writes_every_file_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "new" / "dir"
    written = ar.write_audit(lab_audit(), out)
    assert [p.name for p in written] == list(ar.FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(ar.FILES)
    assert all(p.stat().st_size > 100 for p in written)
    # Again into the same directory: replaced, still nothing else.
    ar.write_audit(lab_audit(), out)
    assert sorted(p.name for p in out.iterdir()) == sorted(ar.FILES)
