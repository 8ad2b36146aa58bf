# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the role result contract shared by every role (docs/role-contract.md)."""

from __future__ import annotations

from ansible_collections.maint.preventive.plugins.module_utils.changes import skip_controls


class FilterModule:
    def filters(self):
        return {"skip_controls": skip_controls}
