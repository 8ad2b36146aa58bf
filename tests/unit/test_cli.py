"""The maint command's entry points (click's runner, no ansible run)."""

import subprocess
import sys

import click
from click.testing import CliRunner

from maintenance_runner import __version__
from maintenance_runner.cli.main import COMMANDS, main


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"maint, version {__version__}"


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "lab"):
        assert f"  {command} " in result.output


def test_every_listed_command_loads_under_its_name():
    ctx = click.Context(main, info_name="maint")
    assert main.list_commands(ctx) == list(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
    assert main.get_command(ctx, "defrag") is None


def test_a_command_imports_only_its_own_modules():
    probe = (
        "import sys\n"
        "from maintenance_runner.cli.main import main\n"
        "try:\n"
        "    main(['apply', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('maintenance_runner.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(out.splitlines()[-1].split())
    assert "maintenance_runner.cli.plan" in loaded
    for other in ("commands_report", "commands_audit", "commands_tick", "lab"):
        assert f"maintenance_runner.{other}" not in loaded


def test_run_rejects_an_unknown_task_and_a_bad_extra_var(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {hosts: {localhost: {}}}\n")
    result = CliRunner().invoke(main, ["run", "defrag", "-i", str(inventory)])
    assert result.exit_code == 2
    assert "defrag" in result.output
    result = CliRunner().invoke(main, ["run", "patching", "-i", str(inventory), "-e", "novalue"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_run_requires_an_existing_inventory(tmp_path):
    result = CliRunner().invoke(main, ["run", "patching", "-i", str(tmp_path / "missing.yml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_apply_progress_is_plain_lines_without_rich_off_a_terminal():
    """Cron, CI and logs get one line per batch and host, and apply does not load rich."""
    probe = (
        "import sys\n"
        "from maintenance_runner.cli.progress import apply_progress\n"
        "with apply_progress() as bar:\n"
        "    bar('start', {'hosts': 2})\n"
        "    bar('batch', {'number': 1, 'of': 1, 'hosts': ['web1', 'db1']})\n"
        "    bar('task', {'task': 'PATCH-04 | Apply'})\n"
        "    bar('host_done', {'host': 'web1', 'status': 'done'})\n"
        "    bar('host_done', {'host': 'db1', 'status': 'rolled_back'})\n"
        "print(type(bar).__name__, 'rich' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["Lines", "False"]
    assert proc.stderr.splitlines() == [
        "batch 1/1: web1, db1",
        "  web1: done",
        "  db1: rolled back",
    ]


def test_apply_progress_bar_counts_hosts_and_failures():
    from maintenance_runner.cli.progress import Bar

    bar = Bar()
    with bar:
        bar("start", {"hosts": 2})
        bar("batch", {"number": 1, "of": 2, "hosts": ["web1"]})
        bar("task", {"task": "PATCH-04 | Apply"})
        bar("host_done", {"host": "web1", "status": "done"})
        bar("host_done", {"host": "db1", "status": "rolled_back"})
    task = bar.progress.tasks[0]
    assert (task.completed, task.fields["failed"], task.fields["batch"]) == (2, 1, "batch 1/2")
    assert task.fields["current"] == "PATCH-04 | Apply"
