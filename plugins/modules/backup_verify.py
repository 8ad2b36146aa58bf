#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: backup_verify
short_description: Verify restic and borg repositories with a real test restore
description:
  - For each repository, lists the snapshots (JSON), measures the age of the newest one against
    the recovery point (I(max_age_hours)), checks that the expected paths are in it, runs the
    repository check (C(restic check) with an optional C(--read-data-subset), C(borg check) with
    C(--verify-data) when a subset is set), and restores a sample (the canary files, or
    I(sample_files) files chosen deterministically from the newest snapshot) into a temporary
    directory, compares SHA-256 checksums with the source files or recorded checksums, times the
    restore and removes the directory again, also on failure.
  - Passwords are passed to restic and borg in the environment (C(RESTIC_PASSWORD),
    C(RESTIC_PASSWORD_FILE), C(BORG_PASSPHRASE), C(BORG_PASSCOMMAND)), never on the command line;
    the I(password) suboption is C(no_log) and secrets are removed from every returned message.
  - Read-only for the backed-up host; commands run with C(--no-cache) and, except the check,
    C(--no-lock). The check takes restic's usual short-lived exclusive lock. The test restore
    writes only to a private temporary directory that is removed. It therefore runs the same in
    check mode.
  - borg keeps a security record and a cache per repository in the account's home
    (C(~/.config/borg), C(~/.cache/borg)); with I(private_state) (a check run) borg works on a
    copy of them in a temporary directory, removed at the end, so a plan or an audit writes
    nothing there.
version_added: "0.1.0"
author: maint developers
options:
  repositories:
    description: The repositories to verify.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: A short name for reports.
        type: str
        required: true
      type:
        description: The backup tool.
        type: str
        choices: [restic, borg]
        default: restic
      repository:
        description: Repository path or URL (C(sftp:), C(rest:), C(s3:), C(ssh://) ...).
        type: str
        required: true
      password_file:
        description: Path on the host of a file holding the password (mode 0600 or 0400).
        type: path
      password:
        description: The password itself; passed in the environment, never logged.
        type: str
      expected_paths:
        description: Absolute paths (or shell patterns) that must be in the newest snapshot.
        type: list
        elements: str
        default: []
      canary_files:
        description:
          - Files restored and compared with I(checksums) or, without a recorded checksum, with
            the source file on the host.
        type: list
        elements: str
        default: []
      checksums:
        description: Recorded SHA-256 checksums, path to hex digest.
        type: dict
        default: {}
      sample_files:
        description: Files restored when there are no canary files.
        type: int
      sample_max_bytes:
        description: Sampled files larger than this are left out (0 means no limit).
        type: int
        default: 67108864
      read_data_subset:
        description:
          - restic C(--read-data-subset) value (C(5%), C(1/10), C(100%)); empty checks the
            structure only. For borg any non-empty value adds C(--verify-data).
        type: str
      max_age_hours:
        description: Recovery point of this repository, overriding I(max_age_hours).
        type: float
  max_age_hours:
    description: Default recovery point in hours.
    type: float
    default: 26
  sample_files:
    description: Default number of files to restore when a repository has no canary files.
    type: int
    default: 3
  read_data_subset:
    description: Default C(--read-data-subset) for repositories without their own.
    type: str
    default: ""
  tmp_dir:
    description: Where the temporary restore directory is created; the system default when empty.
    type: path
  install_pending:
    description: The tool is about to be installed (check mode), so a missing tool is info only.
    type: bool
    default: false
  restic_bin:
    description: The restic program.
    type: str
    default: restic
  borg_bin:
    description: The borg program.
    type: str
    default: borg
  private_state:
    description:
      - Give borg a temporary copy of its configuration and cache directories. Defaults to the
        module's check mode; the role, which runs this probe with C(check_mode false), passes
        C(ansible_check_mode).
    type: bool
notes:
  - Supports check mode; it runs every probe, the test restore included, because nothing outside
    the temporary directory changes.
"""

EXAMPLES = r"""
- name: Verify the backups
  maint.preventive.backup_verify:
    max_age_hours: 26
    repositories:
      - name: daily
        type: restic
        repository: /srv/backup/restic
        password_file: /etc/maint/restic.pass
        expected_paths: [/etc, /srv/data]
        canary_files: [/srv/data/canary.txt]
        read_data_subset: 5%
  no_log: true
  register: verified
"""

RETURN = r"""
repositories:
  description:
    - One entry per repository - name, type, repository (credentials removed), snapshots (count),
      newest (id, short_id, time), recovery_point_age_hours, max_age_hours,
      expected_paths_missing, check (ok, kind, message, read_data_subset, seconds), restore
      (files, seconds, mismatches, missing, error, cleaned), error.
  returned: always
  type: list
  elements: dict
findings:
  description: Findings in the maint_result shape (id, severity, message, recommendation).
  returned: always
  type: list
  elements: dict
"""

import hashlib
import os
import shlex
import shutil
import stat
import tempfile
import time
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.backup_verify import (
    age_hours,
    choose_sample,
    classify_check,
    compare_file,
    missing_paths,
    newest,
    parse_borg_archives,
    parse_borg_ls,
    parse_restic_ls,
    parse_restic_snapshots,
    parse_time,
    redact,
    repository_findings,
)
from ansible_collections.maint.preventive.plugins.module_utils.findings import finding

BASE_ENV = {"LANG": "C", "LC_ALL": "C", "TZ": "UTC"}


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rmtree(path):
    def _writable(func, target, _exc):
        os.chmod(target, stat.S_IRWXU)
        func(target)

    shutil.rmtree(path, onerror=_writable)


def private_borg_env(state, home=None):
    """borg's environment for a run that must leave no trace: its configuration (keys and
    security records) and cache copied into ``state``, a temporary directory."""
    home = home or os.path.expanduser("~")
    env = {}
    for name, var, default in (
        ("config", "BORG_CONFIG_DIR", os.path.join(home, ".config", "borg")),
        ("cache", "BORG_CACHE_DIR", os.path.join(home, ".cache", "borg")),
    ):
        source = os.environ.get(var) or default
        target = os.path.join(state, name)
        if os.path.isdir(source):
            shutil.copytree(source, target, symlinks=True)
        else:
            os.makedirs(target, mode=0o700)
        env[var] = target
    return env


class Backend:
    """Runs one tool against one repository with the secret in the environment only."""

    def __init__(self, module, repo, binary):
        self.module = module
        self.repo = repo
        self.binary = binary
        self.secrets = [repo.get("password") or ""]
        self.env = dict(BASE_ENV)

    def run(self, args, cwd=None):
        rc, out, err = self.module.run_command(
            [self.binary, *args], environ_update=self.env, cwd=cwd
        )
        return rc, out, redact(err, self.secrets)

    def error_text(self, rc, out, err):
        lines = [line.strip() for line in (err or out or "").splitlines() if line.strip()]
        return redact("; ".join(lines[:3]) or "exit code %d" % rc, self.secrets)[:500]


class Restic(Backend):
    def __init__(self, module, repo, binary):
        super().__init__(module, repo, binary)
        self.env.update({"RESTIC_REPOSITORY": repo["repository"]})
        if repo.get("password"):
            self.env["RESTIC_PASSWORD"] = repo["password"]
        elif repo.get("password_file"):
            self.env["RESTIC_PASSWORD_FILE"] = repo["password_file"]

    def snapshots(self):
        rc, out, err = self.run(["--no-cache", "--no-lock", "snapshots", "--json"])
        if rc != 0:
            return None, self.error_text(rc, out, err)
        return parse_restic_snapshots(out), None

    def nodes(self, snapshot):
        rc, out, err = self.run(["--no-cache", "--no-lock", "ls", "--json", snapshot["id"]])
        if rc != 0:
            return None, self.error_text(rc, out, err)
        return parse_restic_ls(out), None

    def check(self, subset):
        args = ["--no-cache", "check"]
        if subset:
            args.append("--read-data-subset=%s" % subset)
        rc, out, err = self.run(args)
        return classify_check("restic", rc, redact(out + "\n" + err, self.secrets))

    def restore(self, snapshot, paths, target):
        args = ["--no-cache", "--no-lock", "restore", snapshot["id"], "--target", target]
        for path in paths:
            args += ["--include", path]
        rc, out, err = self.run(args)
        return None if rc == 0 else self.error_text(rc, out, err)


class Borg(Backend):
    def __init__(self, module, repo, binary):
        super().__init__(module, repo, binary)
        self.env.update(
            {
                "BORG_REPO": repo["repository"],
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no",
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "no",
            }
        )
        if repo.get("password"):
            self.env["BORG_PASSPHRASE"] = repo["password"]
        elif repo.get("password_file"):
            self.env["BORG_PASSCOMMAND"] = "cat %s" % shlex.quote(repo["password_file"])

    def snapshots(self):
        rc, out, err = self.run(["list", "--json", "::"])
        if rc != 0:
            return None, self.error_text(rc, out, err)
        # Borg prints naive local times; TZ=UTC in its environment makes them UTC.
        return parse_borg_archives(out, naive_tz=timezone.utc), None

    def nodes(self, snapshot):
        rc, out, err = self.run(["list", "--json-lines", "::" + snapshot["id"]])
        if rc != 0:
            return None, self.error_text(rc, out, err)
        return parse_borg_ls(out), None

    def check(self, subset):
        args = ["check"] + (["--verify-data"] if subset else [])
        rc, out, err = self.run(args)
        return classify_check("borg", rc, redact(out + "\n" + err, self.secrets))

    def restore(self, snapshot, paths, target):
        args = ["extract", "::" + snapshot["id"]] + [p.lstrip("/") for p in paths]
        rc, out, err = self.run(args, cwd=target)
        return None if rc == 0 else self.error_text(rc, out, err)


def _reference(path, node, checksums, is_canary):
    """What a restored file is compared with: recorded checksum, the source, or its size."""
    if path in checksums:
        return {"kind": "checksum", "sha256": checksums[path]}
    if os.path.isfile(path):
        st = os.stat(path)
        unchanged = node is not None and node.get("size") == st.st_size
        if unchanged and node.get("mtime"):
            unchanged = abs(parse_time(node["mtime"]).timestamp() - st.st_mtime) < 1.0
        if is_canary or unchanged:
            return {"kind": "source", "sha256": sha256_file(path)}
    if node is not None:
        return {"kind": "size", "size": node.get("size")}
    return {"kind": "none"}


def test_restore(module, backend, snapshot, nodes, repo, sample_count, tmp_dir):
    by_path = {n["path"]: n for n in nodes}
    checksums = {"/" + k.strip("/"): v for k, v in (repo.get("checksums") or {}).items()}
    canaries = ["/" + c.strip("/") for c in repo.get("canary_files") or []]
    if canaries:
        wanted = [c for c in canaries if by_path.get(c, {}).get("type") == "file"]
        missing = [c for c in canaries if c not in wanted]
    else:
        wanted = choose_sample(nodes, sample_count, repo.get("sample_max_bytes") or 0)
        missing = []
    result = {
        "files": [],
        "seconds": 0.0,
        "mismatches": [],
        "missing": missing,
        "error": None,
        "cleaned": True,
    }
    if not wanted:
        return result
    target = tempfile.mkdtemp(prefix="maint-backup-verify-", dir=tmp_dir or None)
    try:
        started = time.monotonic()
        error = backend.restore(snapshot, wanted, target)
        result["seconds"] = round(max(time.monotonic() - started, 0.001), 3)
        result["error"] = error
        for path in wanted:
            restored = os.path.join(target, path.lstrip("/"))
            restored_sha = sha256_file(restored) if os.path.isfile(restored) else None
            reference = _reference(path, by_path.get(path), checksums, path in canaries)
            if restored_sha is not None:
                reference["restored_size"] = os.path.getsize(restored)
            record = compare_file(path, restored_sha, reference)
            result["files"].append(record)
            if record["match"] is False:
                result["mismatches"].append(path)
    finally:
        _rmtree(target)
        result["cleaned"] = not os.path.exists(target)
    return result


def verify_repository(module, spec, params, now):
    repo = dict(spec)
    kind = repo["type"]
    binary_name = params["borg_bin"] if kind == "borg" else params["restic_bin"]
    max_age = repo.get("max_age_hours")
    subset = repo.get("read_data_subset")
    data = {
        "name": repo["name"],
        "type": kind,
        "repository": redact(repo["repository"], [repo.get("password") or ""]),
        "max_age_hours": max_age if max_age is not None else params["max_age_hours"],
        "snapshots": 0,
        "newest": None,
        "recovery_point_age_hours": None,
        "expected_paths_missing": [],
        "check": {},
        "restore": {},
        "error": None,
    }
    binary = module.get_bin_path(binary_name)
    if not binary:
        data["tool_missing"] = True
        data["install_pending"] = params["install_pending"]
        return data
    if repo.get("password_file"):
        try:
            mode = stat.S_IMODE(os.stat(repo["password_file"]).st_mode)
        except OSError as exc:
            data["error"] = "password file %s: %s" % (repo["password_file"], exc.strerror)
            return data
        if mode & 0o077:
            data["password_file_mode"] = "%04o" % mode
    elif not repo.get("password"):
        data["error"] = "neither password nor password_file is set"
        return data
    backend = (Borg if kind == "borg" else Restic)(module, repo, binary)
    if kind == "borg":
        backend.env.update(params.get("_borg_env") or {})

    snapshots, error = backend.snapshots()
    if error:
        data["error"] = error
        return data
    data["snapshots"] = len(snapshots)
    latest = newest(snapshots)
    if latest is not None:
        data["newest"] = {k: latest[k] for k in ("id", "short_id", "time", "hostname", "paths")}
        data["recovery_point_age_hours"] = age_hours(latest["time"], now)

    started = time.monotonic()
    data["check"] = backend.check(subset if subset is not None else params["read_data_subset"])
    data["check"]["read_data_subset"] = subset if subset is not None else params["read_data_subset"]
    data["check"]["seconds"] = round(time.monotonic() - started, 3)

    if latest is None:
        return data
    nodes, error = backend.nodes(latest)
    if error:
        # The repository opened but the newest snapshot cannot be read: nothing can be restored.
        data["restore"] = {
            "files": [],
            "seconds": 0.0,
            "mismatches": [],
            "missing": [],
            "error": "cannot list snapshot %s: %s" % (latest["short_id"], error),
            "cleaned": True,
        }
        return data
    data["files"] = sum(1 for n in nodes if n["type"] == "file")
    data["expected_paths_missing"] = missing_paths(
        repo.get("expected_paths") or [], [n["path"] for n in nodes]
    )
    sample = repo.get("sample_files")
    data["restore"] = test_restore(
        module,
        backend,
        latest,
        nodes,
        repo,
        sample if sample is not None else params["sample_files"],
        params["tmp_dir"],
    )
    return data


def main():
    repo_options = dict(
        name=dict(type="str", required=True),
        type=dict(type="str", choices=["restic", "borg"], default="restic"),
        repository=dict(type="str", required=True),
        password_file=dict(type="path"),
        password=dict(type="str", no_log=True),
        expected_paths=dict(type="list", elements="str", default=[]),
        canary_files=dict(type="list", elements="str", default=[]),
        checksums=dict(type="dict", default={}),
        sample_files=dict(type="int"),
        sample_max_bytes=dict(type="int", default=67108864),
        read_data_subset=dict(type="str"),
        max_age_hours=dict(type="float"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            repositories=dict(type="list", elements="dict", required=True, options=repo_options),
            max_age_hours=dict(type="float", default=26),
            sample_files=dict(type="int", default=3),
            read_data_subset=dict(type="str", default=""),
            tmp_dir=dict(type="path"),
            install_pending=dict(type="bool", default=False),
            restic_bin=dict(type="str", default="restic"),
            borg_bin=dict(type="str", default="borg"),
            private_state=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    now = datetime.now(timezone.utc)
    results = []
    findings = []
    private = module.params["private_state"]
    if private is None:
        private = module.check_mode
    params = dict(module.params)
    state = None
    if private and any(r["type"] == "borg" for r in module.params["repositories"]):
        state = tempfile.mkdtemp(prefix="maint-borg-state-", dir=module.params["tmp_dir"] or None)
        params["_borg_env"] = private_borg_env(state)
    try:
        for spec in module.params["repositories"]:
            data = verify_repository(module, spec, params, now)
            findings.extend(repository_findings(data))
            results.append(data)
    finally:
        if state:
            _rmtree(state)
    if not results:
        findings.append(
            finding(
                "backup_verify",
                "not_configured",
                "info",
                "No backup repository is configured for verification on this host",
                "List the host's restic or borg repositories in "
                "backup_verify_repositories so that its backups are verified.",
            )
        )
    module.exit_json(changed=False, repositories=results, findings=findings)


if __name__ == "__main__":
    main()
