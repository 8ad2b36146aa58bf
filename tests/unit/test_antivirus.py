"""ClamAV parsing, definitions age and antivirus findings, on real ClamAV 1.4.6 output.

The samples in samples/antivirus/ were captured in a lab container (Debian 12, clamav
1.4.6+dfsg-0+deb12u1): ``sigtool --info`` of an unsigned database built with
``sigtool --build --unsigned`` (the same header format as the official .cvd/.cld), its raw
512-byte header, ``sigtool --info`` of a custom .hdb (not a database header), clamscan logs and
output, and freshclam output without a route to the mirrors.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import load_plugin

clamav = load_plugin("plugins/module_utils/clamav.py", "maint_clamav")
flt = load_plugin("plugins/filter/antivirus.py", "maint_filter_antivirus")
SAMPLES = Path(__file__).parent / "samples" / "antivirus"
BUILT = datetime(2026, 11, 23, 21, 32, tzinfo=UTC)


def sample(name):
    return (SAMPLES / name).read_text()


def test_sigtool_info_of_a_database_header():
    info = clamav.parse_sigtool_info(sample("sigtool-info-cud.txt"))
    assert info["build_time"] == BUILT.isoformat()
    assert info["version"] == 27000
    assert info["signatures"] == 2
    assert info["functionality_level"] == 216
    assert info["builder"] == "maintbuilder"
    assert info["verification"] == "Unsigned container"


def test_sigtool_info_of_a_custom_database_is_not_a_header():
    assert clamav.parse_sigtool_info(sample("sigtool-info-hdb.txt")) == {}


def test_raw_header_gives_the_same_build_time():
    header = clamav.parse_cvd_header((SAMPLES / "cud-header.txt").read_bytes())
    # The header carries the build time twice: minutes in text and the exact epoch second.
    built = datetime.fromisoformat(header["build_time"])
    assert built.replace(second=0) == BUILT
    assert header["version"] == 27000
    assert header["builder"] == "maintbuilder"
    assert clamav.parse_cvd_header(b"not a header") == {}


def test_documented_official_header_format():
    # The header format of an official daily.cvd as documented by ClamAV (signed, builder
    # name and epoch at the end): values invented, layout real.
    raw = (
        "ClamAV-VDB:08 Nov 2026 09-31 +0000:27815:2071234:90:0123456789abcdef:sig:raynman:"
        "1794130260"
    )
    header = clamav.parse_cvd_header(raw.ljust(512))
    assert header["version"] == 27815
    assert header["build_time"].startswith("2026-11-08T09:31")
    assert clamav.parse_build_time("08 Nov 2026 09:31 +0000").day == 8


@pytest.mark.parametrize(
    ("now", "age", "stale"),
    [
        (BUILT, 0.0, False),
        (datetime(2026, 11, 25, 21, 32, tzinfo=UTC), 2.0, False),
        (datetime(2026, 11, 26, 9, 32, tzinfo=UTC), 2.5, True),
    ],
)
def test_definitions_age_from_the_build_time(now, age, stale):
    info = clamav.parse_sigtool_info(sample("sigtool-info-cud.txt"))
    info["file"] = "/var/lib/clamav/daily.cud"
    summary = clamav.definitions_summary([info], now, max_age_days=2)
    assert summary["present"] is True
    assert summary["age_days"] == age
    assert summary["stale"] is stale
    assert summary["path"] == "/var/lib/clamav/daily.cud"


def test_daily_database_decides_the_age():
    main = {"file": "/v/main.cvd", "build_time": "2026-11-20T10:00:00+00:00", "version": 62}
    daily = {"file": "/v/daily.cld", "build_time": "2026-11-01T10:00:00+00:00", "version": 27800}
    summary = clamav.definitions_summary([main, daily], datetime(2026, 11, 21, 10, tzinfo=UTC))
    assert summary["path"] == "/v/daily.cld"
    assert summary["age_days"] == 20.0


def test_no_official_database_means_missing_and_stale():
    summary = clamav.definitions_summary([], BUILT, max_age_days=2)
    assert summary["present"] is False
    assert summary["stale"] is True
    assert summary["age_days"] is None


def test_database_classification():
    assert clamav.classify_database("daily.cld") == "official"
    assert clamav.classify_database("main.cvd") == "official"
    assert clamav.classify_database("maint-test.hdb") == "custom"
    assert clamav.classify_database("local.ndb") == "custom"
    assert clamav.classify_database("freshclam.dat") is None


def test_engine_version():
    assert clamav.parse_engine_version("ClamAV 1.4.6\n")["engine"] == "1.4.6"
    full = clamav.parse_engine_version("ClamAV 1.4.6/27815/Sun Nov  8 09:31:00 2026")
    assert full == {
        "engine": "1.4.6",
        "database_version": 27815,
        "database_date": "Sun Nov  8 09:31:00 2026",
    }
    assert clamav.parse_engine_version("")["engine"] is None


def test_last_run_of_a_log_with_two_runs():
    text = sample("clamscan-two-runs.log")
    last = clamav.parse_scan_output(text)
    assert last["complete"] is True
    assert last["infected"] == []
    assert last["infected_count"] == 0
    assert last["scanned"] == 1
    assert last["errors"] == ["WARNING: /nonexist: Can't access file"]
    assert last["end"] == "2026-11-23T21:38:17"
    # The first run, alone, found the planted file.
    first = clamav.parse_scan_output(text.split("WARNING: /nonexist")[0])
    assert first["infected"] == [
        {
            "path": "/srv/samples/eicar.com",
            "signature": "Maint.Test.EICAR.UNOFFICIAL",
            "moved_to": None,
        }
    ]
    assert first["infected_count"] == 1
    assert first["scanned"] == 2


def test_scan_stdout_with_a_move_to_quarantine():
    scan = clamav.parse_scan_output(sample("clamscan-move-stdout.txt"))
    assert scan["infected"] == [
        {
            "path": "/srv/samples/eicar.com",
            "signature": "Maint.Test.EICAR.UNOFFICIAL",
            "moved_to": "/tmp/q/eicar.com",
        }
    ]
    assert scan["known_signatures"] == 1


def test_clamd_log_lines_without_summary():
    text = "Mon Nov 23 21:40:00 2026 -> /home/a/x.exe: Win.Test.EICAR_HDB-1 FOUND\n"
    scan = clamav.parse_scan_output(text)
    assert scan["complete"] is False
    assert scan["infected"][0]["path"] == "/home/a/x.exe"
    assert scan["infected"][0]["signature"] == "Win.Test.EICAR_HDB-1"


def test_scan_age_uses_local_naive_time():
    scan = {"end": "2026-11-23T21:38:17"}
    assert clamav.scan_age_days(scan, datetime(2026, 11, 30, 21, 38, 17)) == 7.0
    assert clamav.scan_age_days({}, datetime(2026, 11, 30)) is None


def test_freshclam_failure_message_without_a_route():
    text = sample("freshclam-no-route.txt")
    message = flt.antivirus_freshclam_message(text, limit=3)
    assert message == (
        "ERROR: Update failed for database: daily | "
        "ERROR: Database update process failed: HTTP GET failed | ERROR: Update failed."
    )
    assert not flt.antivirus_freshclam_updated(text)
    assert flt.antivirus_freshclam_updated("daily.cld updated (version: 27815, sigs: 2071234)")
    assert not flt.antivirus_freshclam_updated("daily.cld database is up-to-date (version: 27815)")


def test_update_record_from_a_failed_run():
    text = sample("freshclam-private-mirror-refused.txt")
    record = flt.antivirus_update_record(
        {"rc": 11, "stdout": text, "stderr": ""}, "freshclam", "http://127.0.0.1:9"
    )
    assert record["attempted"] is True
    assert record["ok"] is False
    assert record["rc"] == 11
    assert "Update failed." in record["message"]
    assert record["mirror"] == "http://127.0.0.1:9"
    skipped = flt.antivirus_update_record({"skipped": True, "changed": False})
    assert skipped["attempted"] is False
    timeout = flt.antivirus_update_record({"rc": 124, "stdout": ""})
    assert timeout["message"].startswith("timed out")


def test_update_record_says_whether_updates_are_enabled():
    """antivirus_update: false skips the update like check mode does; only ``enabled`` tells
    the report and the audit "disabled" from "not attempted"."""
    off = flt.antivirus_update_record({"skipped": True}, "freshclam", "", False)
    assert (off["attempted"], off["ok"], off["enabled"]) == (False, None, False)
    on = flt.antivirus_update_record({"rc": 0, "stdout": ""}, "freshclam", "", True)
    assert (on["attempted"], on["ok"], on["enabled"]) == (True, True, True)
    assert flt.antivirus_update_record({"skipped": True})["enabled"] is True


def test_update_record_when_the_log_is_locked():
    record = flt.antivirus_update_record({"rc": 2, "stdout": sample("freshclam-log-locked.txt")})
    assert "Failed to lock the log file" in record["message"]


def _info(**over):
    info = {
        "engine_installed": True,
        "engine_version": "1.4.6",
        "definitions": {
            "present": True,
            "path": "/var/lib/clamav/daily.cld",
            "version": 27815,
            "build_time": "2026-11-23T09:00:00+00:00",
            "age_days": 0.5,
            "custom": [],
            "database_dir": "/var/lib/clamav",
        },
        "scan": {},
        "last_scan": {"log": "/var/log/maint/clamscan-1.log", "infected": [], "age_days": 1.0},
        "quarantine": [],
    }
    info.update(over)
    return info


RUNNING = {
    "clamd": {"name": "clamav-daemon", "running": True, "required": True},
    "freshclam": {"name": "clamav-freshclam", "running": True, "required": True},
}


def ids(findings):
    return {f["id"]: f["severity"] for f in findings}


def test_healthy_host_has_no_findings():
    update = {"attempted": True, "ok": True, "rc": 0}
    assert flt.antivirus_findings(_info(), RUNNING, update) == []


def test_lab_host_findings():
    info = _info(
        definitions={
            "present": False,
            "custom": ["/var/lib/clamav/maint-test.hdb"],
            "database_dir": "/var/lib/clamav",
        },
        scan={
            "log": "/var/log/maint/clamscan-x.log",
            "infected": [
                {"path": "/srv/samples/eicar.com", "signature": "Maint.Test.EICAR.UNOFFICIAL"}
            ],
            "errors": [],
            "age_days": 0.0,
        },
    )
    services = {
        "clamd": {"name": "clamav-daemon", "running": False, "required": True},
        "freshclam": {"name": "clamav-freshclam", "running": False, "required": False},
    }
    update = {
        "attempted": True,
        "ok": False,
        "rc": 11,
        "tool": "freshclam",
        "message": "Update failed.",
    }
    findings = flt.antivirus_findings(info, services, update, scan_rc=1)
    assert ids(findings) == {
        "antivirus.definitions_missing": "high",
        "antivirus.update_failed": "high",
        "antivirus.realtime_down": "high",
        "antivirus.infected": "critical",
    }
    infected = next(f for f in findings if f["id"] == "antivirus.infected")
    assert "/srv/samples/eicar.com" in infected["message"]
    assert "Maint.Test.EICAR.UNOFFICIAL" in infected["message"]
    missing = next(f for f in findings if f["id"] == "antivirus.definitions_missing")
    assert "maint-test.hdb" in missing["message"]


def test_stale_definitions_scan_problems_and_quarantine():
    info = _info(
        definitions={
            "present": True,
            "path": "/v/daily.cld",
            "version": 1,
            "build_time": "x",
            "age_days": 9.0,
        },
        last_scan={"log": "/var/log/clamav/clamav.log", "infected": [], "age_days": 30.0},
        quarantine=[{"path": "/var/lib/maint/quarantine/eicar.com"}],
    )
    findings = flt.antivirus_findings(info, RUNNING, {"attempted": False}, max_age_days=2)
    assert ids(findings) == {
        "antivirus.definitions_stale": "high",
        "antivirus.scan_overdue": "medium",
        "antivirus.quarantine_files": "medium",
    }
    stale = next(f for f in findings if f["id"] == "antivirus.definitions_stale")
    assert "9.0 days old (limit 2)" in stale["message"]


def test_infected_files_from_the_last_scan_log_and_scan_errors():
    last = {
        "log": "/var/log/clamav/clamav.log",
        "end": None,
        "infected": [{"path": "/home/a/x", "signature": "Sig", "moved_to": "/q/x"}],
        "age_days": None,
    }
    findings = flt.antivirus_findings(_info(last_scan=last), RUNNING, None)
    assert ids(findings) == {"antivirus.infected": "critical"}
    assert "moved to /q/x" in findings[0]["message"]
    scan = {
        "log": "/l",
        "infected": [],
        "errors": ["WARNING: /nonexist: Can't access file"],
        "age_days": 0,
    }
    findings = flt.antivirus_findings(_info(scan=scan), RUNNING, None, scan_rc=2)
    assert ids(findings) == {"antivirus.scan_error": "medium"}


def test_engine_missing_and_no_scan():
    info = _info(engine_installed=False, last_scan={})
    findings = flt.antivirus_findings(info, RUNNING, None, install_pending=True)
    assert ids(findings) == {"antivirus.engine_missing": "high", "antivirus.scan_missing": "low"}
    assert "would install" in findings[0]["message"]


def test_service_states_from_status_commands():
    results = [
        {"item": {"key": "clamd", "value": "clamav-daemon"}, "rc": 3},
        {"item": {"key": "freshclam", "value": "clamav-freshclam"}, "rc": 0},
    ]
    services = flt.antivirus_services(results, {"clamd": True, "freshclam": False})
    assert services == {
        "clamd": {"name": "clamav-daemon", "running": False, "rc": 3, "required": True},
        "freshclam": {"name": "clamav-freshclam", "running": True, "rc": 0, "required": False},
    }


def test_windows_findings():
    healthy = {
        "AMServiceEnabled": True,
        "AntivirusEnabled": True,
        "RealTimeProtectionEnabled": True,
        "AntivirusSignatureAge": 0,
        "QuickScanAge": 1,
        "FullScanAge": 4294967295,
    }
    assert flt.antivirus_windows_findings(healthy, [], {"attempted": True, "ok": True}) == []
    bad = dict(
        healthy, RealTimeProtectionEnabled=False, AntivirusSignatureAge=5, QuickScanAge=4294967295
    )
    threats = [
        {
            "ThreatID": 2147519003,
            "ThreatName": "Virus:DOS/EICAR_Test_File",
            "Resources": ["file:_C:\\Temp\\eicar.com"],
            "ActionSuccess": True,
            "InitialDetectionTime": "2026-11-23T10:00:00",
        }
    ]
    update = {
        "attempted": True,
        "ok": False,
        "rc": 1,
        "tool": "Update-MpSignature",
        "message": "0x80240022",
    }
    findings = flt.antivirus_windows_findings(bad, threats, update)
    assert ids(findings) == {
        "antivirus.realtime_down": "high",
        "antivirus.definitions_stale": "high",
        "antivirus.update_failed": "high",
        "antivirus.scan_overdue": "medium",
        "antivirus.infected": "critical",
    }
    assert flt.antivirus_windows_findings({}, [], None)[0]["id"] == "antivirus.engine_missing"
