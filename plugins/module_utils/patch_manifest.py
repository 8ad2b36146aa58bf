# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""The patching rollback manifest: what a host had before a patch run (pure functions)."""

from __future__ import annotations

MANIFEST_VERSION = 1


def build_manifest(manifest_id, created, transaction):
    """Manifest for a transaction from apt_pending's ``selected`` list."""
    packages = []
    for pkg in transaction:
        packages.append(
            {
                "name": pkg["name"],
                "before": pkg.get("current"),
                "after": pkg.get("candidate"),
                "arch": pkg.get("arch"),
                "action": pkg.get("action", "upgrade"),
                "deb": None,
                "deb_source": None,
            }
        )
    return {
        "version": MANIFEST_VERSION,
        "id": manifest_id,
        "created": created,
        "packages": packages,
        "rolled_back_at": None,
    }


def rollback_actions(manifest, installed):
    """What restoring the manifest needs, given ``installed`` (name -> version or None).

    Returns ``(reinstall, remove, missing)``: packages whose pre-change version must be put
    back (with their saved .deb), packages the run newly installed and that must go, and
    packages that need a .deb the manifest does not have.
    """
    reinstall, remove, missing = [], [], []
    for pkg in manifest.get("packages", []):
        name, before = pkg["name"], pkg.get("before")
        now = installed.get(name)
        if before is None:
            if now is not None:
                remove.append(name)
        elif now != before:
            if pkg.get("deb"):
                reinstall.append(pkg)
            else:
                missing.append(name)
    return reinstall, remove, missing


def verify(manifest, installed):
    """Packages whose installed version differs from the manifest's pre-change version."""
    wrong = {}
    for pkg in manifest.get("packages", []):
        if installed.get(pkg["name"]) != pkg.get("before"):
            wrong[pkg["name"]] = {
                "expected": pkg.get("before"),
                "found": installed.get(pkg["name"]),
            }
    return wrong


def run_changes(manifest, installed):
    """What the run of ``manifest`` changed, judged by ``installed`` (name -> version, or None
    when the package is not installed): ``{name: {before, after, now}}`` of every package whose
    installed version is not its recorded pre-change version (moved to ``after``, stopped half
    way, or newly installed). Reads both manifest shapes: apt (``before``/``after``) and dnf
    (``current``/``candidate``)."""
    changed = {}
    for pkg in manifest.get("packages", []):
        before = pkg["before"] if "before" in pkg else pkg.get("current")
        after = pkg["after"] if "after" in pkg else pkg.get("candidate")
        now = installed.get(pkg["name"])
        if now != before:
            changed[pkg["name"]] = {"before": before, "after": after, "now": now}
    return changed
