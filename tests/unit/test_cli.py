"""The maint command's entry points (click's runner, no ansible run)."""

from click.testing import CliRunner

from maintenance_runner import __version__
from maintenance_runner.cli import main


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"maint, version {__version__}"


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "lab"):
        assert f"  {command} " in result.output


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
