"""One typed reader per role's ``maint_result.data``, and one for a host's gathered facts (pure).

The report (``report/``) and the onboarding audit (``audit/``) both read what the roles
published; they read it here, so one backup, one pending update or one hardening score means
the same in both. Each reader takes the ``data`` mapping of a :class:`TaskResult` (or of a stored
``result_details`` row) and returns a frozen dataclass; it never raises on a missing or
malformed field: what it cannot read is None, false or empty (``values.py`` says how each kind
of value is read). docs/role-contract.md and docs/roles/ describe the fields.
"""

from maintenance_runner.core.roledata.access import (
    AccessReviewData,
    AdminAccount,
    admin_accounts,
    read_access_review,
)
from maintenance_runner.core.roledata.antivirus import AntivirusData, Service, read_antivirus
from maintenance_runner.core.roledata.backup import (
    BackupData,
    Repository,
    RestoreTest,
    VeeamJob,
    read_backup,
)
from maintenance_runner.core.roledata.facts import Disk, HostFacts, read_facts
from maintenance_runner.core.roledata.hardening import Control, HardeningData, Score, read_hardening
from maintenance_runner.core.roledata.patching import (
    Package,
    PatchingData,
    WindowsUpdate,
    packages,
    read_patching,
)

__all__ = [
    "AccessReviewData",
    "AdminAccount",
    "AntivirusData",
    "BackupData",
    "Control",
    "Disk",
    "HardeningData",
    "HostFacts",
    "Package",
    "PatchingData",
    "Repository",
    "RestoreTest",
    "Score",
    "Service",
    "VeeamJob",
    "WindowsUpdate",
    "admin_accounts",
    "packages",
    "read_access_review",
    "read_antivirus",
    "read_backup",
    "read_facts",
    "read_hardening",
    "read_patching",
]
