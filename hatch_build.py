"""Build hook: ship the collection inside regular wheels, never inside editable ones.

An editable install must leave the collection in the checkout: a copy in site-packages would
go stale the moment a role is edited.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COLLECTION_DIR = "ansible_collections/maint/preventive"
COLLECTION_PARTS = ("galaxy.yml", "meta", "roles", "playbooks", "plugins")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        for part in COLLECTION_PARTS:
            build_data["force_include"][part] = f"{COLLECTION_DIR}/{part}"
