# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Installed package versions from rpm (the dnf twin of dpkg_query.py)."""

from __future__ import annotations


def parse_rpm_query(text, names):
    """``rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\n'`` output -> {name: version or None}.

    A package installed in several versions (kernels) maps to its versions space-joined, in
    order, so a version added beside the old one counts as a change."""
    found = {name: [] for name in names}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] in found:
            found[parts[0]].append(parts[1])
    return {name: (" ".join(sorted(v)) if v else None) for name, v in found.items()}


def installed_versions(module, names):
    """Map each name to its installed version-release, or None when it is not installed."""
    if not names:
        return {}
    _rc, out, _err = module.run_command(
        ["rpm", "-q", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n", *names],
        environ_update={"LANG": "C"},
    )
    return parse_rpm_query(out, names)
