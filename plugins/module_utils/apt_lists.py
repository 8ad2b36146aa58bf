# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""apt simulations that leave no trace on the host (check mode writes nothing).

``apt-get -s`` as root still writes: the binary caches in /var/cache/apt, the planner log
/var/log/apt/eipp.log.xz, and ``apt-get update`` rewrites /var/lib/apt/lists. A plan must see
fresh package lists and write none of that, so :class:`AptSession` points every simulation at a
temporary directory (removed when the session ends): the planner log goes there, the binary
caches are not written, and in check mode the package lists are refreshed in a copy of
/var/lib/apt/lists there. Outside check mode the real lists are refreshed (when older than
``cache_valid_time``), since the apply that follows installs from them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

LISTS = "/var/lib/apt/lists"
ENV = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


def lists_age(lists=LISTS, now=None):
    """Seconds since the package lists were last refreshed (None when there are none)."""
    newest = None
    try:
        names = os.listdir(lists)
    except OSError:
        return None
    for name in names:
        if name.endswith(("Release", "InRelease")):
            mtime = os.path.getmtime(os.path.join(lists, name))
            newest = mtime if newest is None else max(newest, mtime)
    if newest is None:
        return None
    return (now or time.time()) - newest


class AptSession:
    """``with AptSession(module, refresh=True) as apt: apt.simulate([...])``."""

    def __init__(self, module, refresh=False, cache_valid_time=0, check_mode=None, lists=LISTS):
        self.module = module
        self.refresh = refresh
        self.cache_valid_time = cache_valid_time
        self.check_mode = module.check_mode if check_mode is None else check_mode
        self.lists = lists
        self.tmp = None
        self.private_lists = None
        self.refreshed = False
        self.refresh_error = ""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="maint-apt-")
        os.chmod(self.tmp, 0o755)
        age = lists_age(self.lists)
        stale = age is None or age > self.cache_valid_time
        if self.refresh and stale:
            if self.check_mode:
                self.private_lists = os.path.join(self.tmp, "lists")
                os.makedirs(self.private_lists, mode=0o755)
                for name in os.listdir(self.lists) if os.path.isdir(self.lists) else []:
                    path = os.path.join(self.lists, name)
                    if os.path.isfile(path) and name != "lock":
                        shutil.copy2(path, self.private_lists)
                self._update(self.options())
            else:
                self._update(["-o", "Dir::Log=%s" % self.tmp])
        return self

    def __exit__(self, *exc):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def _update(self, options):
        rc, out, err = self.module.run_command(
            ["apt-get", "-q", "update", *options], environ_update=ENV
        )
        self.refreshed = rc == 0
        if rc != 0:
            self.refresh_error = (err or out).strip()[-500:]

    def options(self):
        """The ``-o`` options of a simulation that writes only under the temporary directory."""
        opts = [
            "-o",
            "Debug::NoLocking=1",
            "-o",
            "Dir::Cache::pkgcache=",
            "-o",
            "Dir::Cache::srcpkgcache=",
            "-o",
            "Dir::Log=%s" % self.tmp,
        ]
        if self.private_lists:
            opts += ["-o", "Dir::State::Lists=%s" % self.private_lists]
        return opts

    def simulate(self, args):
        """``(rc, stdout, error)`` of ``apt-get -s ARGS``."""
        rc, out, err = self.module.run_command(
            ["apt-get", "-s", "-q", *self.options(), *args], environ_update=ENV
        )
        return rc, out, error_text(err, out)


def error_text(err, out):
    """The ``E:`` lines apt printed (else the last lines of its output)."""
    lines = [line[3:].strip() for line in (err or "").splitlines() if line.startswith("E: ")]
    lines += [line[3:].strip() for line in (out or "").splitlines() if line.startswith("E: ")]
    if lines:
        return "; ".join(dict.fromkeys(lines))
    tail = (err or out or "").strip().splitlines()
    return tail[-1] if tail else ""
