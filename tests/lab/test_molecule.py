"""Every Molecule scenario in molecule/<scenario>/ runs its full test sequence on lab containers."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_every_role_has_a_scenario():
    roles = {p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").exists()}
    assert roles <= set(SCENARIOS), f"roles without a Molecule scenario: {roles - set(SCENARIOS)}"


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_FORCE_COLOR", "false")
    log = tmp_path / f"molecule-{scenario}.log"
    with log.open("w") as out:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=1800,
        )
    text = log.read_text()
    assert proc.returncode == 0, f"molecule test -s {scenario} failed:\n{text[-8000:]}"
    # The testinfra verifier really ran (twice: after converge and after side_effect).
    assert len(re.findall(r"=+ \d+ passed", text)) >= 1, text[-4000:]
