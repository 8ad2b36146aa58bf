"""Batches and the error budget (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def amount(value: float, percent: bool, total: int) -> float:
    return total * value / 100 if percent else value


def batches(hosts: Sequence[str], size: float, percent: bool) -> list[list[str]]:
    """Split hosts into batches of the window's size (a percentage rounds up, at least 1)."""
    if not hosts:
        return []
    per = max(1, math.ceil(amount(size, percent, len(hosts))))
    return [list(hosts[i : i + per]) for i in range(0, len(hosts), per)]


def budget(max_fail: float, percent: bool, total: int) -> int:
    """How many hosts may fail before no further batch starts (a percentage rounds down)."""
    return math.floor(amount(max_fail, percent, total) + 1e-9)


def budget_spent(failed: int, allowed: int) -> bool:
    return failed > allowed
