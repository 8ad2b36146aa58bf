# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Installed package versions from dpkg-query."""

from __future__ import annotations


def installed_versions(module, names):
    """Map each name to its installed version, or None when it is not installed."""
    versions = {name: None for name in names}
    if not names:
        return versions
    _rc, out, _err = module.run_command(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Status}\n", *names],
        environ_update={"LANG": "C"},
    )
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == "installed":
            versions[parts[0]] = parts[1]
    return versions
