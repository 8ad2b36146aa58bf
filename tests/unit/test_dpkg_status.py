"""The dpkg_status module: installed packages with their source packages, from a status file."""

from __future__ import annotations

from tests.conftest import load_plugin

dpkg_status = load_plugin("plugins/modules/dpkg_status.py", "dpkg_status_module")

STATUS = """\
Package: bash
Status: install ok installed
Priority: required
Version: 5.2.15-2+b7
Source: bash (5.2.15-2)
Architecture: amd64
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
 Source: this continuation line is not a field

Package: removed-thing
Status: deinstall ok config-files
Version: 1.0
Architecture: all

Package: libssl3
Status: install ok installed
Source: openssl
Version: 3.0.15-1~deb12u1
Architecture: amd64

Package: maint-fixture
Status: install ok installed
Version: 1.0
Architecture: all
"""


def test_installed_packages_with_their_sources_and_source_versions():
    assert dpkg_status.installed_packages(STATUS) == [
        ["bash", "5.2.15-2+b7", "bash", "5.2.15-2", "amd64"],
        ["libssl3", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1", "amd64"],
        ["maint-fixture", "1.0", "maint-fixture", "1.0", "all"],
    ]
