"""The container judge (bench/judge.py --hosts container): Lynis before and after the hardening
role on a lab container, ssh-audit against its sshd, and the maintenance key afterwards.

The figures asserted are issue 26's targets for a container (docs/judges.md): Lynis 58 -> 80 or
more, suggestions 51 -> about 20, and no ssh-audit fail or warn after the role. What a container
cannot reach (read-only /proc/sys, no init for auditd, rsyslog or a time daemon) is listed there.
The VM judge takes 30-55 minutes under emulation: it runs with make judge, not here.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import labkit

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
LYNIS_FLOOR = 80  # issue 26's target for a container


def judge_missing():
    if shutil.which("lynis") is None:
        return "lynis is not installed (make system-deps as root)"
    if not (labkit.BIN / "ssh-audit").exists():
        return "ssh-audit is not installed in the virtualenv (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    missing = judge_missing()
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("judge")
    port = labkit.free_base(1, 4600, 4700) + 1
    began = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "judge.py"),
            "--hosts",
            "container",
            "--port",
            str(port),
            "--prefix",
            f"maint-judge-{os.getpid()}",
            "--state",
            str(work / "state"),
            "--json",
            str(work / "judge.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    seconds = time.monotonic() - began
    print(proc.stdout[-3000:])
    print(f"container judge: {seconds:.0f}s")
    assert (work / "judge.json").exists(), proc.stdout + proc.stderr
    (result,) = json.loads((work / "judge.json").read_text())["results"]
    return proc, result


def test_judge_runs_and_the_role_succeeds(judged):
    proc, result = judged
    assert result["error"] == "", result["error"]
    assert result["hardening_exit"] == 0
    # Without --enforce, missed targets are printed but do not fail the run.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "target >= 80" in proc.stdout


def test_the_maintenance_key_still_logs_in_with_sudo(judged):
    _, result = judged
    assert result["key_sudo_before"] is True
    assert result["key_sudo_after"] is True


def test_lynis_index_reaches_the_container_target(judged):
    _, result = judged
    before, after = result["lynis_before"], result["lynis_after"]
    assert after["index"] > before["index"]
    assert after["index"] >= LYNIS_FLOOR
    assert len(after["suggestions"]) < len(before["suggestions"])
    # What the role's controls settle, Lynis no longer suggests.
    settled = {"DEB-0280", "DEB-0831", "KRNL-5820", "AUTH-9230", "AUTH-9262", "AUTH-9286"}
    settled |= {"AUTH-9328", "BANN-7126", "BANN-7130", "PKGS-7370", "USB-1000", "STRG-1846"}
    # issue 26's controls: modules in the form Lynis accepts, fail2ban, accounting, AIDE,
    # compilers, the shell timeout
    settled |= {"NETW-3200", "DEB-0880", "ACCT-9622", "ACCT-9626", "FINT-4350", "FINT-4402"}
    settled |= {"HRDN-7222", "SHLL-6220"}
    still = {s.split("|")[0] for s in after["suggestions"]}
    assert not still & settled, sorted(still & settled)


def test_ssh_audit_after_the_role(judged):
    _, result = judged
    before, after = result["ssh_audit_before"], result["ssh_audit_after"]
    assert before["fail"] and before["warn"]
    # post-quantum key exchange only, no NIST ECDSA host key: nothing fails, nothing warns
    assert after == {"fail": [], "warn": []}, after
