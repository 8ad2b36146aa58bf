"""``maint cron``: the crontab entry (in a crontab file, and once in root's real crontab), the
command it runs under /bin/sh as cron would, and the systemd units checked by systemd-analyze."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from maintenance_runner.cli.cron import MARKER, TickJob, cron_group

MAINT = Path(sys.executable).parent / "maint"
FAKE_MAINT = """#!/bin/sh
# stands in for maint: records how cron called it
{{ echo "argv: $*"; echo "cwd: $(pwd)"; echo "path: $PATH"; echo "secret: $MAINT_TEST_SECRET"
}} > '{record}'
echo "tick output on stdout"
echo "tick complaint on stderr" >&2
"""


@pytest.fixture(autouse=True)
def crontab_file(tmp_path, monkeypatch):
    """Every test edits a crontab file, never a real crontab (unless it says so)."""
    path = tmp_path / "crontab"
    monkeypatch.setenv("MAINT_CRONTAB_FILE", str(path))
    return path


@pytest.fixture
def site(tmp_path):
    """A working directory with a valid maint.yml, its name full of awkward characters."""
    directory = tmp_path / "site 100% 'ok'"
    directory.mkdir()
    (directory / "maint.yml").write_text("windows: []\n")
    return directory


def _cron(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cron_group, list(args), catch_exceptions=False)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cron_group, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def _our_lines(text: str, directory: Path) -> list[str]:
    """The entry lines below our marker comment in a crontab text."""
    lines = text.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line == f"# {MARKER} {directory}"]


def _as_cron_runs_it(entry: str) -> tuple[str, str]:
    """Split a crontab line the way cron does: five time fields, then the command up to the
    first unescaped %, where ``\\%`` means a literal %; the rest is stdin."""
    match = re.match(r"^\s*(?:\S+\s+){5}(.*)$", entry)
    assert match, entry
    command, stdin, i, text = [], None, 0, match.group(1)
    while i < len(text):
        if text[i] == "\\" and text[i + 1 : i + 2] == "%":
            command.append("%")
            i += 2
            continue
        if text[i] == "%":
            stdin = text[i + 1 :]
            break
        command.append(text[i])
        i += 1
    return "".join(command), stdin or ""


# --- the crontab -------------------------------------------------------------------------------


def test_install_twice_is_one_entry_and_remove_removes_only_ours(site, tmp_path, crontab_file):
    original = (
        "MAILTO=ops@example.com\n"
        "# nightly report\n"
        "0 3 * * * date +\\%F >> /var/log/nightly.log\n"
        "@reboot /usr/local/bin/warm-cache\n"
    )
    crontab_file.write_text(original)
    other = tmp_path / "other-site"
    other.mkdir()
    (other / "maint.yml").write_text("{}\n")

    first = _cron("install", cwd=site)
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"installed in {crontab_file}:\n# {MARKER} {site}\n*/5 * * * * ")
    second = _cron("install", "--dir", str(site))
    assert second.exit_code == 0, second.output
    assert second.output.startswith("already installed in ")
    assert _cron("install", "--dir", str(other)).exit_code == 0

    text = crontab_file.read_text()
    assert len(_our_lines(text, site)) == 1
    assert len(_our_lines(text, other)) == 1
    assert text.startswith(original)
    assert (site / ".maint").is_dir()  # the log's directory exists before cron appends to it

    removed = _cron("remove", "--dir", str(site))
    assert removed.output == f"removed 1 entry from {crontab_file}\n"
    text = crontab_file.read_text()
    assert _our_lines(text, site) == []
    assert len(_our_lines(text, other)) == 1
    assert _cron("remove", "--dir", str(other)).exit_code == 0
    assert crontab_file.read_text() == original
    again = _cron("remove", "--dir", str(site))
    assert again.exit_code == 0
    assert again.output == f"no maint tick entry for {site} in {crontab_file}\n"


def test_install_with_other_options_updates_the_entry(site, crontab_file):
    assert _cron("install", "--dir", str(site)).exit_code == 0
    result = _cron("install", "--dir", str(site), "--every", "15", "--no-log", "--", "-v")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("updated in ")
    [entry] = _our_lines(crontab_file.read_text(), site)
    assert entry.startswith("*/15 * * * * ")
    config = shlex.quote(str(site / "maint.yml")).replace("%", "\\%")
    assert entry.endswith(f" tick --config {config} -v")
    assert ">>" not in entry
    # relative paths are read from --dir, wherever the command runs
    assert _cron("install", "--dir", str(site), "--log", "logs/t.log").exit_code == 0
    [entry] = _our_lines(crontab_file.read_text(), site)
    assert entry.endswith(
        " >> " + shlex.quote(str(site / "logs" / "t.log")).replace("%", "\\%") + " 2>&1"
    )
    assert (site / "logs").is_dir()


def test_the_entry_runs_under_sh_as_cron_runs_it(site, tmp_path, crontab_file):
    record = tmp_path / "called"
    fake = tmp_path / "bin dir" / "maint"
    fake.parent.mkdir()
    fake.write_text(FAKE_MAINT.format(record=record))
    fake.chmod(0o755)
    env_file = tmp_path / "maint.env"
    env_file.write_text("MAINT_TEST_SECRET='s3cr3t value'\n")
    env_file.chmod(0o600)
    result = _cron(
        "install",
        "--dir",
        str(site),
        "--maint",
        str(fake),
        "--env-file",
        str(env_file),
        "--",
        "--at",
        "2026-12-10",
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    [entry] = _our_lines(crontab_file.read_text(), site)
    command, stdin = _as_cron_runs_it(entry)
    assert stdin == ""
    ran = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""  # everything went to the log, nothing to cron's mail
    called = record.read_text().splitlines()
    assert called[0] == f"argv: tick --config {site / 'maint.yml'} --at 2026-12-10"
    assert called[1] == f"cwd: {site}"
    assert called[2].startswith(f"path: {fake.parent}:")
    assert called[3] == "secret: s3cr3t value"
    log = (site / ".maint" / "tick.log").read_text()
    assert log == "tick output on stdout\ntick complaint on stderr\n"


def test_show_prints_our_entry_and_the_units_that_follow_it(site, crontab_file):
    assert _cron("install", "--dir", str(site), "--every", "10").exit_code == 0
    result = _cron("show", "--dir", str(site))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"# in {crontab_file}:\n# {MARKER} {site}\n*/10 * * * * cd ")
    assert "# maint-tick.service\n[Unit]\n" in out
    assert f"WorkingDirectory={str(site).replace('%', '%%')}\n" in out
    assert f"ExecStart={MAINT} tick --config " in out
    assert "OnCalendar=*:0/10\nPersistent=true\n" in out


def test_show_without_an_entry_says_so_and_follows_the_options(site, crontab_file):
    result = _cron("show", "--dir", str(site), "--every", "20", "--no-log")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"# no maint tick entry for {site} in {crontab_file} (maint cron install adds it)\n"
    )
    assert "OnCalendar=*:0/20\n" in result.output
    assert "StandardOutput=" not in result.output
    assert not crontab_file.exists()


def test_bad_input_is_one_line_exit_2_and_changes_nothing(site, tmp_path, crontab_file):
    crontab_file.write_text("0 3 * * * true\n")
    hashy = tmp_path / "a #b"
    hashy.mkdir()
    (hashy / "maint.yml").write_text("{}\n")
    (site / "bad.yml").write_text("windows: [{name: w}]\n")
    cases = [
        (["install", "--dir", str(tmp_path)], f"{tmp_path / 'maint.yml'}: no such file"),
        (["install", "--dir", str(site), "-c", "bad.yml"], "windows[w].schedule: required"),
        (["install", "--dir", str(hashy)], "--dir: a '#' or a line break cannot go in"),
        (["install", "--dir", str(site), "--every", "0"], "Invalid value for '--every'"),
        (["install", "--dir", str(site), "--log", "x", "--no-log"], "--log and --no-log"),
        (["install", "--dir", str(site), "--maint", str(tmp_path / "nope")], "--maint: not an"),
        (["install", "--dir", str(site), "--env-file", str(tmp_path / "nope")], "--env-file: "),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cron_group, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
    assert crontab_file.read_text() == "0 3 * * * true\n"


def test_cli_has_the_cron_group(site, crontab_file):
    done = subprocess.run(
        [str(MAINT), "cron", "install", "--dir", str(site)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(_our_lines(crontab_file.read_text(), site)) == 1


# --- the pure core ------------------------------------------------------------------------------


def test_parse_reads_back_what_command_wrote(tmp_path):
    job = TickJob(
        workdir=tmp_path / "a b",
        maint=MAINT,
        config=tmp_path / "a b" / "maint.yml",
        log=tmp_path / "a b" / ".maint" / "tick.log",
        every=10,
        args=("-v", "--dry-run"),
    )
    assert TickJob.parse(job.command(), "*/10", tmp_path / "a b") == job
    with_env = TickJob(tmp_path, MAINT, tmp_path / "m.yml", None, 5, (), tmp_path / "e n v")
    assert TickJob.parse(with_env.command(), "*/5", tmp_path) == with_env
    quiet = TickJob(tmp_path, MAINT, tmp_path / "m.yml", None, 1)
    assert TickJob.parse(quiet.command(), "*", tmp_path) == quiet
    assert quiet.schedule == "* * * * *"
    assert TickJob.parse("cd /elsewhere && maint tick --config x", "*/5", tmp_path) is None
    assert TickJob.parse(job.command(), "7", tmp_path / "a b") is None


# --- systemd -------------------------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
@pytest.mark.parametrize("every", [1, 5, 7])
def test_units_pass_systemd_analyze_verify(site, tmp_path, every):
    env_file = tmp_path / "maint 100%.env"
    env_file.write_text("MAINT_SMTP_PASSWORD=x\n")
    log = site / ".maint" / "tick $HOME.log"
    job = TickJob(site, MAINT, site / "maint.yml", log, every, ("-v",), env_file)
    units = tmp_path / "units"
    units.mkdir()
    service = units / "maint-tick.service"
    timer = units / "maint-tick.timer"
    service.write_text(job.service_unit("root"))
    timer.write_text(job.timer_unit())
    done = subprocess.run(
        ["systemd-analyze", "verify", str(service), str(timer)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", job.on_calendar],
        capture_output=True,
        text=True,
        check=False,
    )
    assert calendar.returncode == 0, calendar.stderr
    assert f"*-*-* *:00/{every}:00" in calendar.stdout
    unit = job.service_unit("root")
    config = str(site / "maint.yml").replace("%", "%%")
    assert f'ExecStart={MAINT} tick --config "{config}" -v\n' in unit
    assert f"EnvironmentFile={tmp_path}/maint 100%%.env\n" in unit
    assert "StandardOutput=append:" + str(log).replace("%", "%%") + "\n" in unit


def test_units_fail_verify_when_broken(site, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    job = TickJob(site, tmp_path / "no-such-maint", site / "maint.yml", None, 5)
    service = tmp_path / "maint-tick.service"
    service.write_text(job.service_unit("root"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(service)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0  # the check above can fail


# --- root's real crontab -------------------------------------------------------------------------


def _crontab_l() -> str | None:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        assert "no crontab for" in done.stderr, done.stderr
        return None
    return done.stdout


@pytest.mark.skipif(shutil.which("crontab") is None, reason="crontab (Debian package cron) missing")
@pytest.mark.skipif(os.geteuid() != 0, reason="edits the real crontab only when running as root")
def test_real_crontab_of_root(site, monkeypatch):
    monkeypatch.delenv("MAINT_CRONTAB_FILE")
    before = _crontab_l()
    try:
        # /bin/true stands in for maint, so a cron daemon firing meanwhile does nothing
        for _ in range(2):
            result = _cron("install", "--dir", str(site), "--maint", "/bin/true")
            assert result.exit_code == 0, result.output
        assert "in the crontab of root:" in result.output
        assert len(_our_lines(_crontab_l() or "", site)) == 1
        if before:
            assert (_crontab_l() or "").startswith(before)
        shown = _cron("show", "--dir", str(site))
        assert shown.output.startswith(f"# in the crontab of root:\n# {MARKER} {site}\n")
        assert _cron("remove", "--dir", str(site)).exit_code == 0
        assert _our_lines(_crontab_l() or "", site) == []
    finally:
        if before is None:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)
        else:
            subprocess.run(["crontab", "-"], input=before, text=True, check=True)
    assert _crontab_l() == before
