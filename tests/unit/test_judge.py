"""bench/judge.py: reading Lynis reports and ssh-audit output (real ones, from lab hosts), and
when the judge's exit status fails a run."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).parent / "samples" / "judge"
_spec = importlib.util.spec_from_file_location("judge", ROOT / "bench" / "judge.py")
assert _spec and _spec.loader
judge = importlib.util.module_from_spec(_spec)
sys.modules["judge"] = judge  # dataclasses look their module up
_spec.loader.exec_module(judge)


def test_lynis_report_gives_index_tests_warnings_and_suggestions():
    lynis = judge.parse_lynis_report((SAMPLES / "lynis-report-container-after.dat").read_text())
    assert lynis.index == 74
    assert lynis.tests_done == 238
    assert [w.split("|")[0] for w in lynis.warnings] == ["PKGS-7392", "LOGG-2138"]
    assert len(lynis.suggestions) == 29
    assert lynis.suggestions[0].startswith("LYNIS|")


def test_a_report_without_an_index_is_an_error():
    with pytest.raises(judge.JudgeError, match="hardening_index"):
        judge.parse_lynis_report("# Lynis Report\nlynis_version=3.0.8\n")


def test_ssh_audit_counts_every_fail_and_warn_line_with_its_algorithm():
    audit = judge.parse_ssh_audit((SAMPLES / "ssh-audit-3.9.0-after.txt").read_text())
    assert audit.fail == [
        "(key) ecdsa-sha2-nistp256: using elliptic curves that are suspected as being "
        "backdoored by the U.S. National Security Agency"
    ]
    assert len(audit.warn) == 6
    # The second note of an algorithm is counted and named after it.
    assert "(key) ecdsa-sha2-nistp256: using weak random number generator could reveal the key" in (
        audit.warn
    )
    assert all(w.startswith("(kex) ") for w in audit.warn[:5])


def test_ssh_audit_that_never_reached_sshd_is_an_error_not_a_clean_bill():
    with pytest.raises(judge.JudgeError, match="did not reach sshd"):
        judge.parse_ssh_audit("(gen) ... connection refused\n")


def verdict(met, hard):
    return judge.Verdict("vm", "figure", "1", "2", met, hard)


@pytest.mark.parametrize(
    ("verdicts", "enforce", "status"),
    [
        ([verdict(True, False), verdict(True, True)], False, 0),
        ([verdict(False, False), verdict(True, True)], False, 0),  # a missed target is printed
        ([verdict(False, False), verdict(True, True)], True, 1),  # ... and fails with --enforce
        ([verdict(True, False), verdict(False, True)], False, 1),  # a lockout always fails
    ],
)
def test_exit_status(verdicts, enforce, status):
    assert judge.exit_status(verdicts, enforce) == status


def test_a_recorded_run_reports_its_figures_and_fails_only_when_enforced(tmp_path, capsys):
    """judge-container.json: a real container judge (58 -> 75, ssh-audit 1 fail, 6 warn)."""
    saved = SAMPLES / "judge-container.json"
    out = tmp_path / "judges.md"
    assert judge.main(["--from-json", str(saved), "--write", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "miss lab container  Lynis hardening index          58 -> 75   target >= 80" in printed
    text = out.read_text()
    assert "Measured 2026-12-06 05:38 UTC with `bench/judge.py --hosts container`" in text
    assert "| lab container | 58 | 75 | >= 80 | 51 -> 27 | 6/18 | 1/6 (target 0/0) | yes |" in text
    assert "| ACCT-9628 | Enable auditd to collect audit information |" in text
    assert judge.main(["--from-json", str(saved), "--enforce"]) == 1
