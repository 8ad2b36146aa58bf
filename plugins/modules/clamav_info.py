#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: clamav_info
short_description: Read the ClamAV engine, definitions age, last scan result and quarantine
description:
  - Reads the ClamAV engine version (C(clamscan --version)).
  - Reads the header of every official database (C(.cvd), C(.cld), C(.cud)) in the database
    directory with C(sigtool --info) (or straight from the file's 512-byte header when sigtool
    is missing) and computes the definitions age from the build time in that header, never from
    the file's mtime. Plain signature files (C(.hdb), C(.ndb), ...) are listed as custom
    signatures; they carry no build time.
  - Parses the newest scan log among the given globs (clamscan's C(--log) format) for the last
    scan result and its infected files.
  - Lists the files in the quarantine directory.
  - Read-only; never changes the host. Supports check mode. A missing engine, database directory,
    log or quarantine directory is reported in the result, never a failure.
version_added: "0.1.0"
author: maint developers
options:
  database_dir:
    description: The ClamAV database directory (C(DatabaseDirectory)).
    type: path
    default: /var/lib/clamav
  extra_databases:
    description: Further database files or directories that scans load; listed in the result.
    type: list
    elements: path
    default: []
  scan_logs:
    description: Globs of clamscan log files; the newest matching file is the last scan.
    type: list
    elements: str
    default: [/var/log/clamav/*.log, /var/log/maint/clamscan-*.log]
  quarantine_dir:
    description: Directory where infected files are moved; its files are listed.
    type: path
    default: /var/lib/maint/quarantine
  max_age_days:
    description: Definitions older than this many days are stale.
    type: float
    default: 2
  scan_output:
    description: >-
      The output of the clamscan run the role made this time, parsed into C(scan); empty when no
      scan ran.
    type: str
    default: ""
  scan_log:
    description: The log file of that run, copied into C(scan.log).
    type: str
    default: ""
notes:
  - Log files that contain no clamscan run (for example an empty C(clamav.log)) are skipped.
"""

EXAMPLES = r"""
- name: Read the ClamAV state
  maint.preventive.clamav_info:
    database_dir: /var/lib/clamav
    max_age_days: 2
  register: av
"""

RETURN = r"""
engine_version:
  description: The engine version, or null when clamscan is not installed.
  returned: always
  type: str
engine_installed:
  description: Whether clamscan was found.
  returned: always
  type: bool
definitions:
  description: >-
    path, version, build_time (ISO, UTC), age_days, present, stale, databases (every official
    database header), custom (custom signature files), database_dir.
  returned: always
  type: dict
last_scan:
  description: >-
    The newest clamscan run found in the logs (log, complete, infected [{path, signature,
    moved_to}], infected_count, scanned, start, end, age_days, errors); empty when none.
  returned: always
  type: dict
scan:
  description: >-
    This run's scan parsed from I(scan_output) (same keys as last_scan); empty when no scan ran.
  returned: always
  type: dict
quarantine:
  description: Files in the quarantine directory (path, size, mtime).
  returned: always
  type: list
  elements: dict
"""

import glob
import os
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.clamav import (
    classify_database,
    definitions_summary,
    parse_cvd_header,
    parse_engine_version,
    parse_scan_output,
    parse_sigtool_info,
    scan_age_days,
)

ENV = {"LANG": "C", "LC_ALL": "C"}


def read_header(module, path):
    sigtool = module.get_bin_path("sigtool")
    if sigtool:
        rc, out, _err = module.run_command(
            [sigtool, "--stdout", "--info=%s" % path], environ_update=ENV
        )
        info = parse_sigtool_info(out) if rc == 0 else {}
        if info:
            info["file"] = path
            info["source"] = "sigtool"
            return info
    try:
        with open(path, "rb") as handle:
            info = parse_cvd_header(handle.read(512))
    except OSError:
        info = {}
    if info:
        info["file"] = path
        info["source"] = "header"
    return info


def list_databases(module, database_dir, extra):
    official, custom, unreadable = [], [], []
    candidates = []
    for base in [database_dir, *list(extra)]:
        if os.path.isdir(base):
            candidates.extend(os.path.join(base, n) for n in sorted(os.listdir(base)))
        elif os.path.exists(base):
            candidates.append(base)
    for path in candidates:
        kind = classify_database(os.path.basename(path))
        if kind == "official":
            info = read_header(module, path)
            if info:
                official.append(info)
            else:
                unreadable.append(path)
        elif kind == "custom":
            custom.append(path)
    return official, custom, unreadable


def last_scan(patterns):
    files = set()
    for pattern in patterns:
        files.update(p for p in glob.glob(pattern) if os.path.isfile(p))
    for path in sorted(files, key=os.path.getmtime, reverse=True):
        try:
            with open(path, errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        scan = parse_scan_output(text)
        if scan["complete"] or scan["infected"]:
            scan["log"] = path
            return scan
    return {}


def list_quarantine(path):
    found = []
    if not os.path.isdir(path):
        return found
    for root, _dirs, names in os.walk(path):
        for name in sorted(names):
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            found.append(
                {
                    "path": full,
                    "size": st.st_size,
                    "mtime": datetime.fromtimestamp(st.st_mtime, tz=timezone.utc).isoformat(),
                }
            )
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database_dir=dict(type="path", default="/var/lib/clamav"),
            extra_databases=dict(type="list", elements="path", default=[]),
            scan_logs=dict(
                type="list",
                elements="str",
                default=["/var/log/clamav/*.log", "/var/log/maint/clamscan-*.log"],
            ),
            quarantine_dir=dict(type="path", default="/var/lib/maint/quarantine"),
            max_age_days=dict(type="float", default=2),
            scan_output=dict(type="str", default=""),
            scan_log=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    clamscan = module.get_bin_path("clamscan")
    engine = {"engine": None, "database_version": None, "database_date": None}
    if clamscan:
        rc, out, _err = module.run_command([clamscan, "--version"], environ_update=ENV)
        if rc == 0:
            engine = parse_engine_version(out)

    official, custom, unreadable = list_databases(
        module, params["database_dir"], params["extra_databases"]
    )
    now = datetime.now(timezone.utc)
    definitions = definitions_summary(official, now, params["max_age_days"])
    definitions.update(
        databases=official,
        custom=custom,
        unreadable=unreadable,
        database_dir=params["database_dir"],
        database_dir_exists=os.path.isdir(params["database_dir"]),
    )

    scan = last_scan(params["scan_logs"])
    if scan:
        scan["age_days"] = scan_age_days(scan, datetime.now())

    this_scan = {}
    if params["scan_output"]:
        this_scan = parse_scan_output(params["scan_output"])
        this_scan["log"] = params["scan_log"] or None
        this_scan["age_days"] = scan_age_days(this_scan, datetime.now())

    module.exit_json(
        changed=False,
        engine_installed=bool(clamscan),
        engine_version=engine["engine"],
        engine=engine,
        definitions=definitions,
        last_scan=scan,
        scan=this_scan,
        quarantine=list_quarantine(params["quarantine_dir"]),
    )


if __name__ == "__main__":
    main()
