"""One builder per report section; ``report/build.py`` composes them.

Every builder starts from a :class:`~.basis.Basis` (the scope's runs, results and deferrals,
worked out once) and returns a part of :class:`~maintenance_runner.report.model.Report`.
"""

from maintenance_runner.report.sections.approvals import DEFAULT_RETRO_WITHIN, plan_approval
from maintenance_runner.report.sections.common import deciding_results, month_of, month_range
from maintenance_runner.report.sections.findings import findings_timeline
from maintenance_runner.report.sections.followups import followup_state, followup_stats
from maintenance_runner.report.sections.hosts import checks_of
from maintenance_runner.report.sections.kpis import cadence, completion
from maintenance_runner.report.sections.latency import latency_stats, patch_latency

__all__ = [
    "DEFAULT_RETRO_WITHIN",
    "cadence",
    "checks_of",
    "completion",
    "deciding_results",
    "findings_timeline",
    "followup_state",
    "followup_stats",
    "latency_stats",
    "month_of",
    "month_range",
    "patch_latency",
    "plan_approval",
]
