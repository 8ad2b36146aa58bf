"""The action log: an append-only, hash-chained record of what the runner planned and did."""

from maintenance_runner.actionlog.store import ActionLog, VerifyReport, migrate, normalise_url

__all__ = ["ActionLog", "VerifyReport", "migrate", "normalise_url"]
