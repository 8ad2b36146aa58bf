"""Tags: a guard or probe runs under every tag selection that runs what it guards.

Operators run a role's audit alone (``--tags audit``) or its changes alone (``--tags patch``). Both
must run the asserts, fail checks and read-only probes the selected tasks depend on, or a
remediation runs without its guard (or a result is published from probes that never ran). The
rules, checked on every role's task files (``main.yml`` under both tags, ``rollback.yml``, a
change, under ``--tags patch``, ``reconcile.yml``, read-only, under ``--tags audit``):

1. a task that runs under ``--tags X`` and uses a variable needs every earlier task that sets it
   (register, set_fact, fact modules) to run under ``--tags X`` too; a use with ``default`` or
   ``is defined`` is exempt, except when the variable comes from a read-only probe
   (``check_mode: false``), which runs whenever its result is used;
2. an assert or fail task runs under ``--tags X`` when any later task of its file (or of a file
   included after it) does;
3. an include runs under ``--tags X`` when any task it includes carries the tag ``X``;
4. an include that runs under ``--tags X`` and applies tags to what it includes applies ``X``
   (or ``always``) too, so it never runs only the parts of a file that happen to be ``always``;
5. an import carries only tags that every task of its file carries itself: the tags stay
   readable on the tasks, and importing changes no task's selection.

Ansible's own ``--list-tasks`` cross-checks the tag selection modelled here, and names the guards
of access_review directly.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, collection_path

ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/tasks/main.yml"))
SELECTIONS = ("audit", "patch")
INCLUDE = ("ansible.builtin.include_tasks", "include_tasks")
IMPORT = ("ansible.builtin.import_tasks", "import_tasks")
GUARDS = ("ansible.builtin.assert", "ansible.builtin.fail", "assert", "fail")
# Fact modules and the facts they set.
FACTS = {
    "ansible.builtin.setup": "ansible_facts",
    "ansible.builtin.package_facts": "ansible_facts.packages",
    "ansible.builtin.service_facts": "ansible_facts.services",
}
# Task keywords that are not expressions (or are the task's own outputs).
NOT_USES = ("name", "tags", "register", "notify", "listen", "loop_control")


def _tags(value) -> frozenset[str]:
    if not value:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else value)


def _action(task: dict) -> str:
    for key in task:
        if "." in key or key in INCLUDE + IMPORT + GUARDS + ("set_fact",):
            return key
    return ""


@dataclass
class Task:
    role: str
    file: str
    raw: dict
    tags: frozenset[str]  # its own and the inherited ones (import, block, include apply)
    includes: tuple[Task, ...]  # the include tasks it sits under, outermost first
    scopes: tuple[int, ...]  # one id per task file instance, outermost first
    children: list[Task] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.raw.get("name", "?")

    @property
    def action(self) -> str:
        return _action(self.raw)

    @property
    def probe(self) -> bool:
        """A read-only probe: runs even in check mode to read the host's state."""
        return self.raw.get("check_mode") is False or self.action in FACTS

    @property
    def applied_tags(self) -> frozenset[str] | None:
        """The tags an include applies to what it includes (None: it applies none)."""
        spec = self.raw.get(self.action)
        if self.action not in INCLUDE or not isinstance(spec, dict) or "apply" not in spec:
            return None
        return _tags(spec["apply"].get("tags"))

    def runs_with(self, tag: str) -> bool:
        """Whether ``ansible-playbook --tags <tag>`` runs this task."""
        selected = tag in self.tags or "always" in self.tags
        return selected and all(inc.runs_with(tag) for inc in self.includes)

    def sets(self) -> set[str]:
        out = set()
        if self.raw.get("register"):
            out.add(self.raw["register"])
        if self.action.endswith("set_fact"):
            out |= {k for k in self.raw[self.action] if k != "cacheable"}
        if self.action in FACTS:
            out.add(FACTS[self.action])
        return out

    def texts(self) -> list[str]:
        """Every string of the task that can hold an expression (values of set_fact only)."""
        out = []

        def walk(value):
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        for key, value in self.raw.items():
            if key not in NOT_USES:
                walk(value)
        return out

    def __str__(self) -> str:
        return f"{self.role}/{self.file}: {self.name!r}"


class Role:
    def __init__(self, name: str):
        self.name = name
        self.dir = ROOT / "roles" / name
        self.vars: dict = {}
        for part in ("defaults", "vars"):
            path = self.dir / part / "main.yml"
            if path.exists():
                self.vars.update(yaml.safe_load(path.read_text()) or {})
        self._scope = itertools.count()
        self.imports: list[Task] = []  # import tasks met while expanding (not part of any path)

    def files_of(self, expr: str) -> list[str]:
        """The task files an include names: a literal, or every value of the dict it indexes
        (``{{ <role>_family_tasks[ansible_facts.os_family] }}``)."""
        match = re.fullmatch(r"\{\{\s*(\w+)\[.*\]\s*\}\}", expr.strip())
        if match:
            return sorted(set(self.vars[match.group(1)].values()))
        assert "{{" not in expr, f"{self.name}: cannot resolve include {expr!r}"
        return [expr]

    def paths(
        self, file: str, inherited=frozenset(), includes=(), scopes=(), follow=INCLUDE + IMPORT
    ) -> list[list[Task]]:
        """Every sequence of tasks ``file`` can run, includes and imports expanded (one sequence
        per file an include can name, e.g. per OS family)."""
        scopes = (*scopes, next(self._scope))
        raw = yaml.safe_load((self.dir / "tasks" / file).read_text()) or []
        return self._expand(raw, file, inherited, includes, scopes, follow)

    def top_level(self, file: str) -> list[Task]:
        """The tasks ``ansible-playbook --list-tasks`` shows for ``file``: imports expanded,
        includes not (they are dynamic)."""
        return self.paths(file, follow=IMPORT)[0]

    def _expand(self, raw_tasks, file, inherited, includes, scopes, follow) -> list[list[Task]]:
        paths: list[list[Task]] = [[]]
        for raw in raw_tasks:
            tags = inherited | _tags(raw.get("tags"))
            if "block" in raw:
                body = raw["block"] + raw.get("rescue", []) + raw.get("always", [])
                inner = self._expand(body, file, tags, includes, scopes, follow)
                paths = [p + q for p in paths for q in inner]
                continue
            task = Task(self.name, file, raw, tags, includes, scopes)
            alternatives = [[task]]
            action = task.action
            if action in follow:
                spec = raw[action]
                target = spec if isinstance(spec, str) else spec["file"]
                if action in INCLUDE:
                    # dynamic: the include's own tags stay on the include; apply tags pass on
                    apply = {} if isinstance(spec, str) else spec.get("apply") or {}
                    child_tags = inherited | _tags(apply.get("tags"))
                    child_includes = (*includes, task)
                else:  # static: the import's tags pass on to every task it imports
                    child_tags, child_includes = tags, includes
                    self.imports.append(task)
                alternatives = []
                for name in self.files_of(target):
                    for inner in self.paths(name, child_tags, child_includes, scopes, follow):
                        task.children.extend(inner)
                        alternatives.append([task, *inner] if action in INCLUDE else inner)
            paths = [p + q for p in paths for q in alternatives]
        return paths


def _uses(task: Task, names: set[str], role_vars: dict) -> dict[str, bool]:
    """The names of ``names`` the task uses, directly or through a role variable it uses:
    name -> whether some use needs it defined (no ``default``, no ``is defined``)."""
    found: dict[str, bool] = {}
    seen: set[str] = set()
    texts = task.texts()
    while texts:
        text = texts.pop()
        for name in names:
            ref = r"(?<![\w.])" + re.escape(name) + r"(?![\w])"
            if not re.search(ref, text):
                continue
            guarded = re.search(
                ref + r"(\.\w+|\[[^\]]*\])*\s*"
                r"(\|\s*default\b|is\s+(not\s+)?(defined|undefined)\b)",
                text,
            )
            found[name] = found.get(name, False) or not guarded
        for var, value in role_vars.items():
            if var not in seen and re.search(r"(?<![\w.])" + re.escape(var) + r"\b", text):
                seen.add(var)
                texts.append(json.dumps(value))
    return found


def _entry_paths(role: Role) -> list[tuple[list[Task], tuple[str, ...]]]:
    """Every path through the role's entry files, with the tag selections that apply to it."""
    out = [(path, SELECTIONS) for path in role.paths("main.yml")]
    if (role.dir / "tasks" / "rollback.yml").exists():
        out += [(path, ("patch",)) for path in role.paths("rollback.yml")]
    if (role.dir / "tasks" / "reconcile.yml").exists():  # read-only, like an audit
        out += [(path, ("audit",)) for path in role.paths("reconcile.yml")]
    return out


def violations(role_name: str) -> list[str]:
    role = Role(role_name)
    found: list[str] = []
    for path, selections in _entry_paths(role):
        produced = set().union(*(t.sets() for t in path))
        for tag in selections:
            for i, task in enumerate(path):
                # 1. what a selected task uses is set under the same selection
                if task.runs_with(tag):
                    for name, required in sorted(_uses(task, produced, role.vars).items()):
                        for earlier in path[:i]:
                            if (
                                name in earlier.sets()
                                and (required or earlier.probe)
                                and not earlier.runs_with(tag)
                            ):
                                found.append(
                                    f"{task} runs with --tags {tag} and uses {name}, "
                                    f"but --tags {tag} skips {earlier.name!r}"
                                )
                # 2. a guard runs whenever what follows it in its file runs
                if task.action in GUARDS and not task.runs_with(tag):
                    guarded = [
                        t for t in path[i + 1 :] if task.scopes[-1] in t.scopes and t.runs_with(tag)
                    ]
                    if guarded:
                        found.append(
                            f"{task} is skipped by --tags {tag}, "
                            f"which runs {guarded[0].name!r} after it"
                        )
                # 3. an include runs whenever something it includes is tagged
                if task.children and not task.runs_with(tag):
                    tagged = [c for c in task.children if tag in _tags(c.raw.get("tags"))]
                    if tagged:
                        found.append(
                            f"{task} is skipped by --tags {tag}, "
                            f"but includes {tagged[0].name!r} tagged {tag}"
                        )
                # 4. an include that applies tags applies the ones it runs under
                applied = task.applied_tags
                if applied is not None and task.runs_with(tag) and not {tag, "always"} & applied:
                    found.append(
                        f"{task} runs with --tags {tag} but applies only {sorted(applied)} "
                        "to what it includes"
                    )
    # 5. an import's tags are already on every task it imports
    for task in role.imports:
        own = _tags(task.raw.get("tags"))
        for child in task.children:
            missing = own - _tags(child.raw.get("tags"))
            if len(child.scopes) == len(task.scopes) + 1 and missing:
                found.append(
                    f"{task} imports {child.name!r}, which does not carry {sorted(missing)} itself"
                )
    return sorted(set(found))


@pytest.mark.parametrize("role", ROLES)
def test_guards_and_probes_carry_the_tags_of_what_they_guard(role):
    assert violations(role) == []


# ---------------------------------------------------------------------------------------------
# Ansible's own view: --list-tasks on each role's task files, imported statically.


def _task_files(role: Role) -> list[str]:
    names = set()
    for path, _ in _entry_paths(role):
        names |= {t.file for t in path}
    return sorted(names)


@pytest.fixture(scope="module")
def listing(tmp_path_factory) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(role, file) -> tag -> the task names ``ansible-playbook --list-tasks --tags <tag>``
    prints for that file, imported with ``import_role: tasks_from``."""
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    if not playbook_bin.exists():
        pytest.skip("ansible-playbook is not installed next to this Python")
    work = tmp_path_factory.mktemp("list-tasks")
    plays = []
    for role in ROLES:
        for file in _task_files(Role(role)):
            plays.append(
                {
                    "name": f"{role} {file}",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Import the task file",
                            "ansible.builtin.import_role": {
                                "name": f"maint.preventive.{role}",
                                "tasks_from": file,
                            },
                        }
                    ],
                }
            )
    (work / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_path()))
    env.pop("ANSIBLE_CONFIG", None)
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for tag in SELECTIONS:
        proc = subprocess.run(
            [str(playbook_bin), "-i", "localhost,", "--list-tasks", "--tags", tag, "playbook.yml"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        play = None
        for line in proc.stdout.splitlines():
            header = re.match(r"\s+play #\d+ \(localhost\): (\S+) (\S+)\tTAGS", line)
            if header:
                play = out.setdefault((header.group(1), header.group(2)), {})
                play.setdefault(tag, [])
                continue
            task = re.match(r"\s+maint\.preventive\.\w+ : (.*?)\tTAGS: ", line)
            if task and play is not None:
                play[tag].append(task.group(1))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_the_model_selects_what_ansible_lists(role, listing):
    """The tag selection modelled above is Ansible's, for the tasks of each file."""
    model = Role(role)
    for file in _task_files(model):
        top = model.top_level(file)
        for tag in SELECTIONS:
            expected = [t.name for t in top if t.runs_with(tag)]
            assert listing[(role, file)][tag] == expected, (role, file, tag)


@pytest.mark.parametrize("tag", SELECTIONS)
def test_access_review_runs_its_guards_and_probes_with_either_tag(listing, tag):
    main = listing[("access_review", "main.yml")][tag]
    linux = listing[("access_review", "linux.yml")][tag]
    windows = listing[("access_review", "windows.yml")][tag]
    assert "AR-00 | Gather the minimal facts the OS dispatch needs" in main
    assert "AR-00 | Fail on an OS family this role does not cover" in main
    assert "AR-03 | Review accounts, admins, sudo rules, SSH keys, logins and listeners" in linux
    assert "AR-02 | Read the snapshot taken before the window" in linux
    assert "AR-W01 | Read the members of the local Administrators group" in windows
    if tag == "patch":
        assert "AR-05 | Remediate stale accounts and unapproved keys" in linux
    else:
        assert "AR-05 | Remediate stale accounts and unapproved keys" not in linux
