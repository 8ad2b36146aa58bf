"""maint.yml's pydantic models and the parsers they share with the command line.

The models validate everything a single field or section can say about itself: keys, time
zones, schedules (RRULE or cron), durations, percentages and holiday country codes. Checks
across sections (calendar references, ICS files, policies named by windows) are the loader's
(``config/load.py``), which reports every problem as one line naming the file and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from maintenance_runner.errors import UsageProblem


class UnknownWindow(UsageProblem):
    """A window named on the command line that maint.yml does not have."""


ACTIONLOG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
DEFAULT_ACTIONLOG = "sqlite:///.maint/actionlog.db"
KNOWN_TASKS = ("access_review", "backup_verify", "antivirus", "patching", "hardening")

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_OFFSET_RE = re.compile(r"^([+-]?\d+)d$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# --- parsers shared by the models and the command line --------------------------------------


def parse_duration(text: str | int) -> timedelta:
    """``4h``, ``30m``, ``1h30m``, ``2d``, ``45s`` (an int is seconds)."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION_RE.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 4h, 30m, 1h30m, 2d)")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def parse_offset(text: str | int) -> int:
    """A whole number of days such as ``2d`` or ``-1d`` (an int is days)."""
    if isinstance(text, bool):
        raise ValueError(f"not an offset in days: {text!r}")
    if isinstance(text, int):
        return text
    match = _OFFSET_RE.match(str(text).strip())
    if not match:
        raise ValueError(f"not an offset in days: {text!r} (use e.g. 2d, 0d, -1d)")
    return int(match.group(1))


def parse_days(text: str | Iterable[str]) -> tuple[int, ...]:
    """``mon-fri``, ``[mon, wed, fri]`` or ``[mon-thu, sat]`` -> weekday numbers (Monday = 0)."""
    items = [text] if isinstance(text, str) else list(text)
    found: set[int] = set()
    for item in items:
        parts = [p.strip().lower()[:3] for p in str(item).split("-")]
        if len(parts) > 2 or any(p not in WEEKDAYS for p in parts):
            raise ValueError(f"not a weekday or a range of weekdays: {item!r} (use e.g. mon-fri)")
        first, last = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[-1])
        if last < first:
            raise ValueError(f"weekday range {item!r} ends before it starts")
        found.update(range(first, last + 1))
    if not found:
        raise ValueError("no working days given")
    return tuple(sorted(found))


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


# Every RRULE is evaluated from here unless it has its own DTSTART: a Saturday, 1 January,
# midnight (schedule.rule_anchor picks a later start where that changes no day).
RULE_EPOCH = date(2000, 1, 1)


def is_rrule(schedule: str) -> bool:
    upper = schedule.strip().upper()
    return upper.startswith(("RRULE:", "DTSTART", "FREQ="))


def check_schedule(schedule: str) -> None:
    """Raise ValueError when the schedule is neither a valid RRULE nor a valid cron expression."""
    from croniter import croniter
    from dateutil.rrule import rrulestr

    text = schedule.strip()
    if is_rrule(text):
        try:
            epoch = datetime.combine(RULE_EPOCH, datetime.min.time())
            rule = rrulestr(text, dtstart=epoch, forceset=True)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"bad RRULE {schedule!r}: {exc}") from None
        if rule.after(epoch, inc=True) is None:
            raise ValueError(f"RRULE {schedule!r} never occurs")
        return
    fields = text.split()
    if len(fields) in (6, 7):
        raise ValueError(
            f"{schedule!r} has {len(fields)} fields: a cron schedule has exactly 5 (minute hour "
            "day-of-month month day-of-week), and 6 or 7 would be read with seconds first"
        )
    if len(fields) != 5 or not croniter.is_valid(text):
        raise ValueError(
            f"bad schedule {schedule!r}: neither an RRULE (RRULE:FREQ=...) nor a 5-field cron "
            "expression (minute hour day-of-month month day-of-week)"
        )
    from croniter import CroniterBadDateError

    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {schedule!r} never matches") from None


# --- models -----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidaysSpec(_Strict):
    country: str
    subdiv: str | None = None
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _known(self) -> HolidaysSpec:
        import holidays

        try:
            kwargs: dict[str, Any] = {"subdiv": self.subdiv, "years": 2026}
            if self.categories:
                kwargs["categories"] = tuple(self.categories)
            holidays.country_holidays(self.country, **kwargs)
        except NotImplementedError as exc:
            raise ValueError(str(exc)) from None
        return self


class CalendarSpec(_Strict):
    """A blackout calendar: public holidays, an ICS file, or explicit date ranges.

    ``timezone`` says in which zone dates and floating times are read; without it they are read
    in the zone of the window that uses the calendar.
    """

    holidays: HolidaysSpec | None = None
    ics: str | None = None
    ranges: list[tuple[date | datetime, date | datetime]] | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_zone(value)
        return value

    @field_validator("ranges")
    @classmethod
    def _ordered(
        cls, value: list[tuple[date | datetime, date | datetime]] | None
    ) -> list[tuple[date | datetime, date | datetime]] | None:
        for first, last in value or []:
            if type(first) is not type(last):
                raise ValueError(f"range [{first}, {last}] mixes a date and a date-time")
            if isinstance(first, datetime) and (first.tzinfo is None) != (last.tzinfo is None):
                raise ValueError(f"range [{first}, {last}] mixes local and zoned times")
            if last < first:  # type: ignore[operator]
                raise ValueError(f"range [{first}, {last}] ends before it starts")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> CalendarSpec:
        given = [k for k in ("holidays", "ics", "ranges") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of holidays, ics, ranges")
        return self


class PostCheck(_Strict):
    """A command run on each host of a batch after its tasks; a non-zero exit fails the host."""

    name: str
    command: str
    timeout: int = Field(default=60, gt=0)


class PatchHold(_Strict):
    """One package (or one version of it) kept out of every plan until a date, and why."""

    package: str = Field(min_length=1)
    version: str | None = None
    reason: str = Field(min_length=1)
    until: date

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return None if value is None else str(value)


class PatchBaseline(_Strict):
    """Which pending updates a plan takes, and why the others wait (``patch_baselines:``)."""

    classifications: list[Literal["security", "bugfix", "all"]] = Field(
        default_factory=lambda: ["all"], min_length=1
    )
    kernel: bool = True  # kernel packages (linux-image-*, linux-headers-*, kernel*) in or out
    approve_after: timedelta = timedelta(0)  # an update enters once it has been seen this long
    holds: list[PatchHold] = Field(default_factory=list)
    reject: list[str] = Field(default_factory=list)  # shell patterns never taken
    allow: list[str] = Field(default_factory=list)  # when not empty, only these are taken
    reboot: Literal["never", "if_needed", "always"] = "if_needed"

    @field_validator("approve_after", mode="before")
    @classmethod
    def _age(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)


class CveConfig(_Strict):
    """``cve:``: judge each Debian host's packages against Debian's security tracker feed."""

    # The feed debsecan reads (a URL or file://): Debian's tracker, or a local mirror of it.
    feed: str = "https://security-tracker.debian.org/tracker/debsecan/release/1/"
    suite: str = "bookworm"  # the hosts' Debian codename
    critical_within: timedelta = timedelta(days=7)  # a critical CVE open longer: a follow-up

    @field_validator("critical_within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)

    @field_validator("feed")
    @classmethod
    def _feed(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "file://")):
            raise ValueError(f"not a feed URL: {value!r} (https://... or file:///path/)")
        return value


class Window(_Strict):
    """A recurring maintenance window."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    schedule: str
    offset: int = 0
    start: time | None = None
    timezone: str = "UTC"
    duration: timedelta
    cutoff: timedelta = timedelta(0)
    targets: str = "all"
    tasks: list[str] = Field(min_length=1)
    batch: str = "100%"
    max_fail: str = "0"
    change: str = "normal"
    blackout: list[str] = Field(default_factory=list)
    on_blackout: Literal["skip", "next"] = "skip"
    # What apply does with a change the plan predicts would fail: leave that control out on
    # that host (and apply the rest), or leave the whole host out (deferred, with the reason).
    on_would_fail: Literal["skip_control", "skip_host"] = "skip_control"
    post_checks: list[PostCheck] = Field(default_factory=list)
    lead_time: timedelta = timedelta(days=3)
    patch_baseline: str | None = None  # a name from patch_baselines: (patching's policy)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        check_schedule(value)
        return value.strip()

    @field_validator("offset", mode="before")
    @classmethod
    def _offset(cls, value: Any) -> int:
        return parse_offset(value)

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        if value is None or isinstance(value, time):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 22:00 as a sexagesimal number of minutes
            value = f"{value // 60:02d}:{value % 60:02d}"
        match = _HHMM_RE.match(str(value).strip())
        if not match:
            raise ValueError(f"not a local time HH:MM: {value!r}")
        return time(int(match.group(1)), int(match.group(2)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_zone(value)
        return value

    @field_validator("duration", "cutoff", "lead_time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        return parse_duration(value)

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, value: list[str]) -> list[str]:
        for task in value:
            if task not in KNOWN_TASKS:
                raise ValueError(f"unknown task {task!r} (known: {', '.join(KNOWN_TASKS)})")
        if len(set(value)) != len(value):
            raise ValueError("a task is listed twice")
        return value

    @field_validator("batch", "max_fail", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> str:
        text = str(value).strip()
        if re.fullmatch(r"\d+", text):
            return text
        match = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
        if not match or float(match.group(1)) > 100:
            raise ValueError(f"not a host count or a percentage: {value!r} (use e.g. 25% or 5)")
        return text

    def coherence_problems(self) -> list[tuple[str, str]]:
        """(field, message) for rules that involve two fields."""
        problems = []
        if self.start is None and is_rrule(self.schedule):
            problems.append(("start", "required with an RRULE schedule (e.g. start: '22:00')"))
        if self.cutoff >= self.duration:
            problems.append(
                ("cutoff", f"{self.cutoff} must be shorter than the duration ({self.duration})")
            )
        return problems

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def batch_amount(self) -> tuple[float, bool]:
        """(value, is_percentage)."""
        return parse_amount(self.batch)

    @property
    def max_fail_amount(self) -> tuple[float, bool]:
        return parse_amount(self.max_fail)


def parse_amount(text: str) -> tuple[float, bool]:
    """``25%`` -> (25.0, True); ``3`` -> (3.0, False): a batch size or an error budget."""
    if text.endswith("%"):
        return float(text[:-1]), True
    return float(text), False


class ChangePolicy(_Strict):
    """How a change type is approved (``normal``, ``standard`` or ``emergency``)."""

    type: Literal["normal", "standard", "emergency"] | None = None
    approvals: int = Field(default=1, ge=0)
    groups: list[str] = Field(default_factory=list)  # approvers must be in one; [] = any signer
    expires: timedelta = timedelta(hours=72)
    tasks: list[str] = Field(default_factory=list)  # standard: the only tasks it may run
    retro_within: timedelta = timedelta(hours=48)  # emergency: retrospective approval deadline

    @field_validator("expires", "retro_within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)


DEFAULT_POLICIES = {
    "normal": ChangePolicy(type="normal"),
    "standard": ChangePolicy(type="standard", approvals=0, tasks=["antivirus"]),
    "emergency": ChangePolicy(type="emergency", groups=["emergency"]),
}


class ApprovalsConfig(_Strict):
    """Who may sign plans: an ssh-keygen allowed_signers file, groups of principals, policies."""

    allowed_signers: str = "allowed_signers"
    groups: dict[str, list[str]] = Field(default_factory=dict)
    policies: dict[str, ChangePolicy] = Field(default_factory=dict)

    def policy(self, name: str) -> ChangePolicy:
        """The named policy, its type filled in (a name of a built-in type is that type)."""
        found = self.policies.get(name) or DEFAULT_POLICIES.get(name)
        if found is None:
            raise KeyError(name)
        kind = found.type or (name if name in DEFAULT_POLICIES else "normal")
        return found.model_copy(update={"type": kind})


class FollowupsSpec(_Strict):
    """``followups:``: which findings become follow-ups, their priority and response targets."""

    class WorkingHours(_Strict):
        """When the response clock runs (see maintenance_runner.core.workhours)."""

        days: str | list[str] = "mon-fri"
        start: time = time(9)
        end: time = time(17)  # 24:00 is read as midnight at the end of the day (00:00)
        timezone: str = "Europe/Madrid"
        # Not validated here: that loads the holidays package (0.2 s for every command); the
        # test suite validates it (tests/unit/test_config.py).
        holidays: HolidaysSpec | None = HolidaysSpec.model_construct(country="ES", subdiv="MD")
        closed: list[date] = Field(default_factory=list)

        @field_validator("days")
        @classmethod
        def _days(cls, value: str | list[str]) -> str | list[str]:
            parse_days(value)
            return value

        @field_validator("start", "end", mode="before")
        @classmethod
        def _hhmm(cls, value: Any) -> Any:
            if isinstance(value, time):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                value = f"{value // 60:02d}:{value % 60:02d}"  # YAML 1.1 reads 09:00 as 540
            text = str(value).strip()
            if text == "24:00":
                return time(0)
            match = _HHMM_RE.match(text)
            if not match:
                raise ValueError(f"not a local time HH:MM: {value!r}")
            return time(int(match.group(1)), int(match.group(2)))

        @field_validator("timezone")
        @classmethod
        def _zone(cls, value: str) -> str:
            parse_zone(value)
            return value

        @model_validator(mode="after")
        def _span(self) -> FollowupsSpec.WorkingHours:
            if self.end != time(0) and self.end <= self.start:
                raise ValueError(f"end {self.end:%H:%M} must be after start {self.start:%H:%M}")
            return self

    class Targets(_Strict):
        """Response targets in working time (``4h``, ``90m``; days are not working days)."""

        P1: timedelta = timedelta(hours=4)
        P2: timedelta = timedelta(hours=8)

        @field_validator("P1", "P2", mode="before")
        @classmethod
        def _working_time(cls, value: Any) -> timedelta:
            if isinstance(value, timedelta):
                return value
            if not isinstance(value, str) or "d" in value:
                raise ValueError(f"not a working-time target: {value!r} (use e.g. 4h, 90m)")
            found = parse_duration(value)
            if found <= timedelta(0):
                raise ValueError("must be longer than zero")
            return found

    min_severity: Literal["info", "low", "medium", "high", "critical"] = "medium"
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    targets: Targets = Field(default_factory=Targets)
    p1_groups: list[str] = Field(default_factory=lambda: ["servers", "infrastructure"])
    p1_findings: list[str] = Field(
        default_factory=lambda: ["access_review.uid0*", "antivirus.infected*"]
    )
    recurring_cycles: int = Field(default=3, ge=2)


NotifyEvent = Literal[
    "plan_awaiting_approval", "approval_expired", "run_finished", "run_failed", "run_rolled_back"
]
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Channel(_Strict):
    """What every notification channel has: an event filter and a timeout."""

    events: list[NotifyEvent] | None = Field(default=None, min_length=1)  # None: every event
    timeout: timedelta = timedelta(seconds=30)

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> timedelta:
        value = value if isinstance(value, timedelta) else parse_duration(value)
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


class CommandChannel(_Channel):
    """Run ``argv`` (no shell) with the JSON body on stdin."""

    argv: list[str] = Field(min_length=1)


class WebhookChannel(_Channel):
    """POST the JSON body. ``${NAME}`` in the URL or a header value is read from the environment."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url", "headers")
    @classmethod
    def _references(cls, value: Any) -> Any:
        for text in [value] if isinstance(value, str) else value.values():
            for name in re.findall(r"\$\{([^}]*)\}", text):
                if not re.fullmatch(_ENV_NAME, name):
                    raise ValueError(f"bad environment variable reference ${{{name}}}")
        if isinstance(value, str) and not re.match(r"^https?://[^/\s]", value):
            raise ValueError(f"not an http:// or https:// URL: {value!r}")
        return value


class SmtpChannel(_Channel):
    """Send an email; the password is read from the environment variable ``password_env``."""

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=_ENV_NAME)

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address:
                raise ValueError(f"not an email address: {address!r}")
        return value

    @model_validator(mode="after")
    def _login(self) -> SmtpChannel:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both username and password_env, or neither")
        return self


class NotificationsConfig(_Strict):
    """``notifications:``: where events go (each channel optional, each with its event filter)."""

    command: CommandChannel | None = None
    webhook: WebhookChannel | None = None
    smtp: SmtpChannel | None = None


class TickConfig(_Strict):
    """``tick:``: how the unattended ``maint tick`` signs the plans it makes ahead."""

    key: str | None = None  # private key of the tick's principal (listed in allowed_signers)


class MaintConfig(_Strict):
    """The whole maint.yml."""

    inventory: str | None = None
    actionlog: str = DEFAULT_ACTIONLOG
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    windows: list[Window] = Field(default_factory=list)
    followups: FollowupsSpec = Field(default_factory=FollowupsSpec)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    tick: TickConfig = Field(default_factory=TickConfig)
    notifications: NotificationsConfig | None = None
    cve: CveConfig | None = None
    patch_baselines: dict[str, PatchBaseline] = Field(default_factory=dict)
    # inventory group -> baseline, for hosts of that group (the first group listed that a host
    # is in wins over its window's baseline)
    patch_baseline_groups: dict[str, str] = Field(default_factory=dict)
    # Directory relative paths (inventory, ics files, sqlite files) are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("actionlog")
    @classmethod
    def _actionlog(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme == "sqlite" and value.startswith("sqlite:///"):
            return value
        if scheme in ACTIONLOG_SCHEMES:
            return value
        raise ValueError(
            f"unknown action log URL {value!r}: use sqlite:///PATH (a file, relative to "
            "maint.yml) or postgresql://USER@HOST/DATABASE"
        )

    def window(self, name: str) -> Window:
        for window in self.windows:
            if window.name == name:
                return window
        known = ", ".join(w.name for w in self.windows) or "none"
        raise UnknownWindow(f"no window named {name!r} (known: {known})")

    def resolve(self, path: str) -> Path:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def actionlog_url(self) -> str:
        """The action log URL with a relative SQLite path resolved against the config file."""
        url = self.actionlog
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix) :]))
        return url
