"""``maint cron install|show|remove``: the crontab entry that calls ``maint tick``.

One entry per working directory, in the crontab of the user who runs the command, found again
by the comment above it (``# maint-tick /srv/maint``), so installing twice leaves one entry and
removing touches nothing else. The entry changes to the working directory, puts the directory of
the ``maint`` executable first on PATH (cron's PATH would not find ansible-playbook in a
virtualenv) and appends the tick's output to a log file:

    # maint-tick /srv/maint
    */5 * * * * cd /srv/maint && PATH=/srv/maint/.venv/bin:/usr/local/sbin:... /srv/maint/.venv/bin/
      maint tick --config /srv/maint/maint.yml >> /srv/maint/.maint/tick.log 2>&1   (one line)

``show`` also prints the equivalent systemd service and timer units. ``MAINT_CRONTAB_FILE`` (or
the hidden ``--crontab-file`` option) points everything at a crontab file instead of the user's
crontab, for tests and for preparing a file to install elsewhere.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from maintenance_runner.cli.options import group
from maintenance_runner.config.load import DEFAULT_CONFIG, load_config

MARKER = "maint-tick"
UNIT = "maint-tick"
DEFAULT_LOG = ".maint/tick.log"
DEFAULT_EVERY = 5
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BadInput(click.UsageError):
    """Bad input: one line, exit code 2, nothing changed."""


# --- the pure core: one tick job, as a crontab line and as systemd units -----------------------


@dataclass(frozen=True)
class TickJob:
    """What cron (or a systemd timer) runs: ``maint tick`` in a directory, every few minutes."""

    workdir: Path
    maint: Path
    config: Path
    log: Path | None = None
    every: int = DEFAULT_EVERY
    args: tuple[str, ...] = field(default=())
    env_file: Path | None = None  # KEY=VALUE lines (secrets for notifications) read first

    @property
    def marker(self) -> str:
        return f"{MARKER} {self.workdir}"

    @property
    def schedule(self) -> str:
        return "* * * * *" if self.every == 1 else f"*/{self.every} * * * *"

    @property
    def on_calendar(self) -> str:
        return f"*:0/{self.every}"

    @property
    def search_path(self) -> str:
        """The maint executable's directory (and the interpreter's) first, then the system's."""
        first = [str(self.maint.parent)]
        interpreter = str(Path(sys.executable).parent)
        if interpreter not in first and (Path(interpreter) / "ansible-playbook").exists():
            first.append(interpreter)
        return ":".join([*first, SYSTEM_PATH])

    @property
    def argv(self) -> list[str]:
        return [str(self.maint), "tick", "--config", str(self.config), *self.args]

    def command(self) -> str:
        """The shell command of the crontab entry (python-crontab escapes ``%`` for cron)."""
        q = shlex.quote
        line = f"cd {q(str(self.workdir))} && "
        if self.env_file is not None:
            line += f"set -a && . {q(str(self.env_file))} && set +a && "
        line += f"PATH={q(self.search_path)} "
        line += " ".join(q(arg) for arg in self.argv)
        if self.log is not None:
            line += f" >> {q(str(self.log))} 2>&1"
        return line

    @classmethod
    def parse(cls, command: str, minute: str, workdir: Path) -> TickJob | None:
        """Read back an entry this module wrote (None when it was edited beyond recognition)."""
        try:
            words = shlex.split(command)
            tick = words.index("tick")
        except ValueError:
            return None
        if words[:3] != ["cd", str(workdir), "&&"] or tick < 1:
            return None
        env_file = None
        if words[3:6] == ["set", "-a", "&&"] and words[6:7] == ["."]:
            env_file = Path(words[7]) if len(words) > 7 else None
        rest = words[tick + 1 :]
        log = None
        if ">>" in rest:
            at = rest.index(">>")
            if at + 1 >= len(rest):
                return None
            log = Path(rest[at + 1])
            rest = rest[:at]
        if len(rest) < 2 or rest[0] != "--config":
            return None
        if minute == "*":
            every = 1
        elif minute.startswith("*/") and minute[2:].isdigit():
            every = int(minute[2:])
        else:
            return None
        maint = Path(words[tick - 1])
        return cls(workdir, maint, Path(rest[1]), log, every, tuple(rest[2:]), env_file)

    def service_unit(self, user: str) -> str:
        lines = [
            "[Unit]",
            "Description=maint tick: plan, apply and report the maintenance windows that are due",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            f"User={user}",
            f"WorkingDirectory={_specifiers(str(self.workdir))}",
            f"Environment={_systemd_word('PATH=' + self.search_path)}",
            *([f"EnvironmentFile={_specifiers(str(self.env_file))}"] if self.env_file else []),
            "ExecStart=" + " ".join(_systemd_word(arg) for arg in self.argv),
            "# a tick that applies a window runs as long as the window: no start timeout",
            "TimeoutStartSec=infinity",
        ]
        if self.log is not None:
            target = "append:" + _specifiers(str(self.log))
            lines += [f"StandardOutput={target}", f"StandardError={target}"]
        return "\n".join(lines) + "\n"

    def timer_unit(self) -> str:
        return (
            "[Unit]\n"
            f"Description=Run maint tick every {self.every} minute(s)\n"
            "\n"
            "[Timer]\n"
            f"OnCalendar={self.on_calendar}\n"
            "Persistent=true\n"
            "\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )


def _specifiers(text: str) -> str:
    """Escape systemd's ``%`` specifiers."""
    return text.replace("%", "%%")


def _systemd_word(text: str) -> str:
    """One word of a systemd command line or Environment= assignment."""
    text = _specifiers(text).replace("$", "$$")
    if text and not any(c.isspace() or c in "\"'\\;" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def resolve_maint(explicit: str | None) -> Path:
    """The ``maint`` executable cron should call (it need not know ``tick`` yet)."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    else:
        if Path(sys.argv[0]).name == "maint":
            candidates.append(Path(sys.argv[0]))
        candidates.append(Path(sys.executable).parent / "maint")
        found = shutil.which("maint")
        if found:
            candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
    if explicit:
        raise BadInput(f"--maint: not an executable file: {explicit}")
    raise click.ClickException("cannot find the maint executable; give its path with --maint")


def _check_cron_safe(label: str, value: str) -> None:
    if "\n" in value or "#" in value:
        raise BadInput(f"{label}: a '#' or a line break cannot go in a crontab entry: {value!r}")


# --- the edge: the crontab ------------------------------------------------------------------------


@dataclass
class Tab:
    """The crontab being edited: the user's, or a file."""

    cron: Any
    file: Path | None

    @property
    def where(self) -> str:
        if self.file is not None:
            return str(self.file)
        return f"the crontab of {_user()}"

    def ours(self, marker: str) -> list[Any]:
        return list(self.cron.find_comment(marker))

    def others(self, marker: str) -> list[Any]:
        prefix = MARKER + " "
        return [
            job for job in self.cron if job.comment.startswith(prefix) and job.comment != marker
        ]

    def write(self) -> None:
        try:
            if self.file is not None:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                self.cron.write(str(self.file))
            else:
                self.cron.write()
        except OSError as exc:
            raise click.ClickException(f"cannot write {self.where}: {exc}") from None


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def open_tab(file: str | None) -> Tab:
    from crontab import CronTab

    try:
        if file:
            path = Path(file).absolute()
            if path.exists():
                return Tab(CronTab(tabfile=str(path)), path)
            return Tab(CronTab(tab=""), path)
        return Tab(CronTab(user=True), None)
    except OSError as exc:
        where = file or f"the crontab of {_user()}"
        raise click.ClickException(f"cannot read {where}: {exc}") from None


def _render(job: Any) -> str:
    return job.render().rstrip("\n")


# --- commands -------------------------------------------------------------------------------------


@group("cron")
@click.option(
    "--crontab-file",
    envvar="MAINT_CRONTAB_FILE",
    hidden=True,
    help="Edit this crontab file instead of the user's crontab.",
)
@click.pass_context
def cron_group(ctx: click.Context, crontab_file: str | None) -> None:
    """The crontab entry that calls `maint tick` (and the systemd units that can replace it)."""
    ctx.obj = {**(ctx.obj or {}), "crontab_file": crontab_file}


def _job_options(function: Any) -> Any:
    options = [
        click.option(
            "--every",
            type=click.IntRange(1, 59),
            default=DEFAULT_EVERY,
            show_default=True,
            help="Minutes between ticks.",
        ),
        click.option(
            "--config",
            "-c",
            "config_path",
            type=click.Path(dir_okay=False),
            default=DEFAULT_CONFIG,
            show_default=True,
            help="The site description the tick reads.",
        ),
        click.option(
            "--log",
            "log_path",
            type=click.Path(dir_okay=False),
            help=f"Append the tick's output here.  [default: {DEFAULT_LOG}]",
        ),
        click.option("--no-log", is_flag=True, help="Leave the output to cron (it mails it)."),
        click.option(
            "--env-file",
            type=click.Path(dir_okay=False),
            help="Read KEY=VALUE lines (notification secrets) into the tick's environment.",
        ),
        click.option(
            "--maint",
            "maint_path",
            type=click.Path(dir_okay=False),
            help="The maint executable (default: the one running, or maint on PATH).",
        ),
        click.argument("tick_args", nargs=-1, type=click.UNPROCESSED),
    ]
    for option in reversed(options):
        function = option(function)
    return _dir_option(function)


def _dir_option(function: Any) -> Any:
    return click.option(
        "--dir",
        "workdir",
        type=click.Path(exists=True, file_okay=False),
        default=".",
        help="The working directory of the tick; relative paths are read from it.  "
        "[default: the current one]",
    )(function)


def _build_job(workdir: str, options: dict[str, Any]) -> TickJob:
    """The job the options describe (relative paths are read from --dir)."""
    if options["no_log"] and options["log_path"]:
        raise BadInput("--log and --no-log: give one of them")
    base = Path(workdir).absolute()
    config = base / options["config_path"]
    log = None if options["no_log"] else base / (options["log_path"] or DEFAULT_LOG)
    env_file = base / options["env_file"] if options["env_file"] else None
    args = tuple(options["tick_args"])
    maint = resolve_maint(str(base / options["maint_path"]) if options["maint_path"] else None)
    job = TickJob(base, maint, config, log, options["every"], args, env_file)
    for label, value in [
        ("--dir", base),
        ("--config", config),
        ("--log", log),
        ("--maint", job.maint),
        ("--env-file", env_file),
        *(("tick argument", arg) for arg in args),
    ]:
        _check_cron_safe(label, str(value))
    return job


@cron_group.command("install")
@_job_options
@click.pass_obj
def install_command(obj: dict[str, Any], workdir: str, **options: Any) -> None:
    """Install (or update) the entry that runs `maint tick` every few minutes.

    Arguments after `--` go to `maint tick` (e.g. `maint cron install -- -v`).
    """
    job = _build_job(workdir, options)
    load_config(job.config)  # a broken maint.yml is refused now, not at 3 a.m. in the log
    if job.env_file is not None:
        _check_env_file(job.env_file)
    tab = open_tab(obj.get("crontab_file"))
    found = tab.ours(job.marker)
    if len(found) == 1 and _same(found[0], job):
        click.echo(f"already installed in {tab.where}:\n{_render(found[0])}")
        return
    for extra in found[1:]:
        tab.cron.remove(extra)
    if found:
        entry = found[0]
        entry.set_command(job.command())
        verb = "updated"
    else:
        entry = tab.cron.new(command=job.command(), comment=job.marker, pre_comment=True)
        verb = "installed"
    entry.setall(job.schedule)
    entry.enable()
    if job.log is not None:
        job.log.parent.mkdir(parents=True, exist_ok=True)
    tab.write()
    click.echo(f"{verb} in {tab.where}:\n{_render(entry)}")


def _check_env_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise BadInput(f"--env-file: {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        click.echo(f"warning: {path} is readable by others; chmod 600 it", err=True)


def _same(entry: Any, job: TickJob) -> bool:
    return (
        entry.is_enabled()
        and entry.command == job.command()
        and entry.slices.render() == job.schedule
    )


def _minute(entry: Any) -> str:
    return str(entry.minute)


@cron_group.command("show")
@_job_options
@click.pass_obj
def show_command(obj: dict[str, Any], workdir: str, **options: Any) -> None:
    """Print the installed entry and the equivalent systemd service and timer units.

    The units follow the installed entry; without one, they follow the options.
    """
    base = Path(workdir).absolute()
    tab = open_tab(obj.get("crontab_file"))
    marker = f"{MARKER} {base}"
    found = tab.ours(marker)
    job = None
    if found:
        click.echo(f"# in {tab.where}:")
        for entry in found:
            click.echo(_render(entry))
        job = TickJob.parse(found[0].command, _minute(found[0]), base)
    else:
        click.echo(f"# no maint tick entry for {base} in {tab.where} (maint cron install adds it)")
    for entry in tab.others(marker):
        click.echo(f"# another maint tick entry in {tab.where}:\n{_render(entry)}")
    if job is None:
        job = _build_job(workdir, options)
    click.echo(
        "\n# The same with systemd instead of cron: save these two units in /etc/systemd/system/,"
        f"\n# then `systemctl daemon-reload && systemctl enable --now {UNIT}.timer`"
        "\n# (and `maint cron remove`)."
    )
    click.echo(f"\n# {UNIT}.service\n{job.service_unit(_user())}")
    click.echo(f"# {UNIT}.timer\n{job.timer_unit()}", nl=False)


@cron_group.command("remove")
@_dir_option
@click.pass_obj
def remove_command(obj: dict[str, Any], workdir: str) -> None:
    """Remove the entry for this working directory (and nothing else)."""
    base = Path(workdir).absolute()
    tab = open_tab(obj.get("crontab_file"))
    found = tab.ours(f"{MARKER} {base}")
    if not found:
        click.echo(f"no maint tick entry for {base} in {tab.where}")
        return
    tab.cron.remove(*found)
    tab.write()
    count = len(found)
    click.echo(f"removed {count} entr{'y' if count == 1 else 'ies'} from {tab.where}")
