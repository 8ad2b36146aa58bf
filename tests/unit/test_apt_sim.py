"""apt-get -s parsing and update selection, on real simulation output."""

from pathlib import Path

import pytest

from tests.conftest import load_plugin

apt_sim = load_plugin("plugins/module_utils/apt_sim.py", "maint_apt_sim")
SAMPLES = Path(__file__).parent / "samples" / "apt"


@pytest.fixture
def lab_output():
    return (SAMPLES / "dist-upgrade.txt").read_text()


def test_parses_every_inst_line_once(lab_output):
    packages = apt_sim.parse_simulation(lab_output)
    inst_lines = [line for line in lab_output.splitlines() if line.startswith("Inst ")]
    assert len(packages) == len(inst_lines)
    by_name = {p["name"]: p for p in packages}
    fixture = by_name["maint-fixture"]
    assert (fixture["current"], fixture["candidate"], fixture["arch"]) == ("1.0", "1.1", "all")
    assert fixture["origins"] == ["maint-fixture:maint-fixture"]
    assert fixture["action"] == "upgrade"


def test_held_package_is_kept_back_by_apt(lab_output):
    names = {p["name"] for p in apt_sim.parse_simulation(lab_output)}
    assert "perl-base" not in names  # held with apt-mark in the sample
    assert "maint-fixture-tools" in names


def test_security_origin_detection(lab_output):
    by_name = {p["name"]: p for p in apt_sim.parse_simulation(lab_output)}
    assert apt_sim.is_security(by_name["maint-fixture-tools"])
    assert apt_sim.is_security(by_name["openssl"])
    assert not apt_sim.is_security(by_name["maint-fixture"])


def test_new_packages_multiple_origins_epochs_and_removals():
    packages = apt_sim.parse_simulation((SAMPLES / "multi-origin.txt").read_text())
    by_name = {p["name"]: p for p in packages}
    assert by_name["libfoo2"]["action"] == "install"
    assert by_name["libfoo2"]["current"] is None
    assert by_name["libcurl4"]["origins"] == [
        "Debian:12.11/stable",
        "Debian-Security:12/stable-security",
    ]
    assert apt_sim.is_security(by_name["libcurl4"])
    assert by_name["curl"]["candidate"] == "1:7.88.1-10+deb12u12"
    assert not apt_sim.is_security(by_name["curl"])
    assert by_name["oldthing"]["action"] == "remove"
    assert [p["name"] for p in packages] == ["libfoo2", "libcurl4", "curl", "oldthing"]


def _pending():
    return apt_sim.parse_simulation((SAMPLES / "multi-origin.txt").read_text())


def test_select_all_upgrades_only():
    selected, skipped = apt_sim.select_updates(_pending())
    assert [p["name"] for p in selected] == ["libcurl4", "curl"]
    assert skipped == {}


def test_select_security_only():
    selected, skipped = apt_sim.select_updates(_pending(), security_only=True)
    assert [p["name"] for p in selected] == ["libcurl4"]
    assert skipped == {"curl": "not a security update"}


def test_allow_deny_and_holds():
    selected, skipped = apt_sim.select_updates(_pending(), allow=["lib*"])
    assert [p["name"] for p in selected] == ["libcurl4"]
    assert skipped["curl"] == "not in allow list"
    selected, skipped = apt_sim.select_updates(_pending(), deny=["curl"], held=["libcurl4"])
    assert selected == []
    assert skipped == {"curl": "deny list", "libcurl4": "held"}


def test_deb_file_name_escapes_the_epoch():
    assert apt_sim.deb_version_filename("1:7.88.1-10") == "1%3a7.88.1-10"
