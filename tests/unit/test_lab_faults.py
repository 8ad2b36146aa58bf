"""Fault specs of the fleet lab: syntax, host selection, errors, the faults.json record."""

import json

import pytest
import yaml
from click.testing import CliRunner

from maintenance_runner.cli.main import main
from maintenance_runner.lab import faults as lab_faults
from maintenance_runner.lab.faults import CATALOGUE, FaultSpecError, parse_mapping, parse_spec
from maintenance_runner.lab.fleet import parse_faults

SPEC = (
    "outdated:1,backup-stale:2,backup-corrupt:3,av-stale:2,rogue-uid0:4,unapproved-key:4,"
    "weak-sshd:5"
)


def names(assignment):
    return {n: [f.name for f in faults] for n, faults in assignment.items()}


def test_the_issue_spec_assigns_each_fault_to_its_host_in_planting_order():
    assert names(parse_spec(SPEC, 6)) == {
        1: ["outdated"],
        2: ["backup-stale", "av-stale"],
        3: ["backup-corrupt"],
        4: ["rogue-uid0", "unapproved-key"],
        5: ["weak-sshd"],
        6: [],
    }


def test_host_selectors_all_ranges_and_plus_lists():
    assert names(parse_spec("outdated:all", 3)) == {
        1: ["outdated"],
        2: ["outdated"],
        3: ["outdated"],
    }
    assert names(parse_spec("weak-sshd:2-3,av-stale:1+3", 3)) == {
        1: ["av-stale"],
        2: ["weak-sshd"],
        3: ["av-stale", "weak-sshd"],
    }
    # Naming a host twice plants the fault once; order follows the catalogue, not the spec.
    assert names(parse_spec("backup-corrupt:1,backup-stale:1,backup-corrupt:1", 1)) == {
        1: ["backup-stale", "backup-corrupt"]
    }


@pytest.mark.parametrize("spec", ["", "none", "  none "])
def test_no_faults(spec):
    assert names(parse_spec(spec, 2)) == {1: [], 2: []}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("teapot:1", "--faults: 'teapot:1': unknown fault 'teapot' (known: outdated,"),
        ("weak-sshd:6", "--faults: 'weak-sshd:6': host 6 is outside the fleet (hosts 1-5)"),
        ("weak-sshd:0", "host 0 is outside the fleet"),
        ("weak-sshd", "--faults: 'weak-sshd': expected FAULT:HOSTS"),
        ("weak-sshd:", "expected FAULT:HOSTS"),
        ("weak-sshd:two", "'two' is not a host number, a range N-M or 'all'"),
        ("weak-sshd:4-2", "range 4-2 is empty"),
    ],
)
def test_bad_specs_name_the_entry(spec, message):
    with pytest.raises(FaultSpecError) as err:
        parse_spec(spec, 5)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_mapping():
    data = yaml.safe_load("outdated: [1, '3-4']\nweak-sshd: all\nav-stale: 2\n")
    assert names(parse_mapping(data, 4, "f.yml")) == {
        1: ["outdated", "weak-sshd"],
        2: ["av-stale", "weak-sshd"],
        3: ["outdated", "weak-sshd"],
        4: ["outdated", "weak-sshd"],
    }
    assert names(parse_mapping(None, 1, "f.yml")) == {1: []}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- outdated\n", "f.yml: expected a mapping of fault names to host numbers"),
        ("outdated: 9\n", "f.yml: outdated: host 9 is outside the fleet (hosts 1-2)"),
        ("rootkit: 1\n", "f.yml: rootkit: unknown fault 'rootkit'"),
        ("outdated: true\n", "f.yml: outdated: expected host numbers, got True"),
        ("outdated: {a: 1}\n", "f.yml: outdated: expected host numbers"),
    ],
)
def test_bad_yaml_names_file_and_fault(text, message):
    with pytest.raises(FaultSpecError) as err:
        parse_mapping(yaml.safe_load(text), 2, "f.yml")
    assert message in str(err.value)


def test_faults_need_what_the_lab_offers():
    lab_faults.check_needs(parse_spec("outdated:1", 1), ["fixture"])
    lab_faults.check_needs(parse_spec("weak-sshd:1,rogue-uid0:1", 1), [])
    with pytest.raises(FaultSpecError, match="outdated \\(host 1\\) needs the fixture"):
        lab_faults.check_needs(parse_spec("outdated:1", 1), [])
    with pytest.raises(FaultSpecError, match="backup-corrupt \\(host 2\\) needs restic"):
        lab_faults.check_needs(parse_spec("backup-corrupt:2", 2), ["fixture", "clamav"])
    with pytest.raises(FaultSpecError, match="av-stale \\(host 1\\) needs ClamAV"):
        lab_faults.check_needs(parse_spec("av-stale:1", 1), ["fixture", "backup"])


def test_faults_record_lists_every_host_with_its_findings():
    record = lab_faults.faults_record(["h-1", "h-2"], parse_spec("rogue-uid0:1", 2))
    assert record == {
        "h-1": [
            {
                "fault": "rogue-uid0",
                "task": "access_review",
                "findings": ["access_review.uid0", "access_review.unapproved_user"],
            }
        ],
        "h-2": [],
    }
    json.dumps(record)  # faults.json is plain JSON
    assert lab_faults.expected_findings(record["h-1"]) == {
        "access_review.uid0",
        "access_review.unapproved_user",
    }
    assert lab_faults.expected_findings(record["h-2"]) == set()


def test_every_fault_has_a_script_and_findings_of_its_own_task():
    from maintenance_runner.ansible.collection import source_root

    root = source_root()
    assert root is not None
    for fault in CATALOGUE.values():
        assert (root / "lab" / "fleet" / fault.script).is_file(), fault.script
        assert fault.findings
        assert all(fid.startswith(fault.task + ".") for fid in fault.findings)
    assert len(lab_faults.fault_finding_ids()) == sum(len(f.findings) for f in CATALOGUE.values())


def test_role_vars_approve_only_the_lab_key():
    found = lab_faults.role_vars("SHA256:abc")
    assert found["access_review_approved_keys"] == {"maint": ["SHA256:abc"]}
    assert found["access_review_strict_keys"] is True
    (repo,) = found["backup_verify_repositories"]
    assert repo["repository"] == lab_faults.BACKUP_REPOSITORY
    assert repo["read_data_subset"] == "100%"
    assert found["antivirus_update"] is False
    # Without restic or ClamAV in the image, no repository and no antivirus settings.
    bare = lab_faults.role_vars("SHA256:abc", backup=False, clamav=False)
    assert "backup_verify_repositories" not in bare
    assert not [k for k in bare if k.startswith("antivirus_")]


def test_parse_faults_reads_a_yaml_file_and_rejects_bad_input(tmp_path):
    spec = tmp_path / "faults.yml"
    spec.write_text("weak-sshd: [2]\n")
    assert names(parse_faults(f"@{spec}", 2, True)) == {1: [], 2: ["weak-sshd"]}
    assert names(parse_faults(str(spec), 2, True)) == {1: [], 2: ["weak-sshd"]}
    spec.write_text("weak-sshd: [3]\n")
    with pytest.raises(Exception) as err:
        parse_faults(str(spec), 2, True)
    assert err.value.exit_code == 2
    assert str(err.value) == f"{spec}: weak-sshd: host 3 is outside the fleet (hosts 1-2)"
    with pytest.raises(Exception) as err:
        parse_faults(f"@{tmp_path / 'missing.yml'}", 2, True)
    assert err.value.exit_code == 2
    assert "missing.yml" in str(err.value)


def test_lab_up_rejects_a_bad_spec_before_starting_anything(tmp_path):
    state = tmp_path / "state"
    result = CliRunner().invoke(
        main, ["lab", "up", "-n", "2", "--faults", "weak-sshd:3", "--state", str(state)]
    )
    assert result.exit_code == 2
    assert "--faults: 'weak-sshd:3': host 3 is outside the fleet (hosts 1-2)" in result.output
    assert not state.exists()
