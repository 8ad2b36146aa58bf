"""The facts a host's fact gathering returned, as the audit's asset register reads them.

Facts come from Ansible's setup module (``ansible.windows.setup`` on Windows) under their
``ansible_`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import count, mapping, mappings, number, text

# Filesystems that hold no data of their own: never listed as disks.
_PSEUDO_FS_NAMES = """
autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl hugetlbfs mqueue
nsfs proc pstore ramfs rpc_pipefs securityfs squashfs sysfs tmpfs tracefs
"""
PSEUDO_FS = frozenset(_PSEUDO_FS_NAMES.split())
# Mount points of single files a container runtime binds in: never the name of a filesystem.
SYSTEM_PREFIXES = ("/etc/", "/run/", "/proc/", "/dev/", "/sys/")
CPU_VENDORS = frozenset({"GenuineIntel", "AuthenticAMD", "CentaurHauls", "HygonGenuine"})


@dataclass(frozen=True)
class Disk:
    mount: str
    device: str
    fstype: str
    size_bytes: int
    used_bytes: int
    used_pct: float
    inodes_used_pct: float | None = None
    also_mounted_at: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostFacts:
    os: str | None  # Debian 12.15 (bookworm), Microsoft Windows Server 2019 ... 10.0.17763.0
    product: str  # the Windows product name, else the distribution (lifecycle lookups)
    distribution: str
    version: str
    major_version: str
    os_family: str | None
    kernel: str | None
    architecture: str | None
    cpu_model: str | None
    cpu_sockets: int | None
    cpu_cores: int | None
    cpu_threads: int | None
    memory_mb: int | None
    swap_mb: int | None
    disks: tuple[Disk, ...]
    uptime_seconds: float | None
    address: str | None
    virtualization: str | None

    @property
    def uptime_days(self) -> float | None:
        return round(self.uptime_seconds / 86400, 1) if self.uptime_seconds is not None else None


def os_label(facts: Mapping[str, Any]) -> str | None:
    """``Debian 12.15 (bookworm)``, ``Microsoft Windows Server 2019 Datacenter 10.0.17763.0``."""
    if text(facts.get("ansible_os_family")) == "Windows" or facts.get("ansible_os_name"):
        name = text(facts.get("ansible_os_name")) or text(facts.get("ansible_distribution"))
        version = text(facts.get("ansible_distribution_version"))
        return " ".join(p for p in (name, version) if p) or None
    name = text(facts.get("ansible_distribution"))
    version = text(facts.get("ansible_distribution_version"))
    release = text(facts.get("ansible_distribution_release"))
    label = " ".join(p for p in (name, version) if p)
    if release and version and release not in version:
        label += f" ({release})"
    return label or None


def cpu_model(facts: Mapping[str, Any]) -> str | None:
    """The processor model from ``ansible_processor`` (index, vendor, model triples on Linux)."""
    raw = facts.get("ansible_processor")
    if not isinstance(raw, list):
        return text(raw)
    models = [
        str(p).strip()
        for p in raw
        if str(p).strip() and not str(p).strip().isdigit() and str(p).strip() not in CPU_VENDORS
    ]
    if not models:
        return None
    # The most frequent model (big.LITTLE machines list two): the first among equals.
    return max(dict.fromkeys(models), key=models.count)


def _mount_order(mount: Mapping[str, Any]) -> tuple[bool, bool, int, str]:
    options = str(mount.get("options") or "").split(",")
    path = str(mount.get("mount") or "")
    return ("bind" in options, path.startswith(SYSTEM_PREFIXES), len(path), path)


def _disk(device: str, size: int, members: list[Mapping[str, Any]]) -> Disk:
    members = sorted(members, key=_mount_order)
    main = members[0]
    available = count(main.get("size_available")) or 0
    used = max(size - available, 0)
    inode_total = count(main.get("inode_total")) or 0
    inode_avail = count(main.get("inode_available"))
    inodes = (
        round(100.0 * (inode_total - inode_avail) / inode_total, 1)
        if inode_total and inode_avail is not None
        else None
    )
    return Disk(
        mount=str(main.get("mount") or ""),
        device=device,
        fstype=str(main.get("fstype") or ""),
        size_bytes=size,
        used_bytes=used,
        used_pct=round(100.0 * used / size, 1),
        inodes_used_pct=inodes,
        also_mounted_at=tuple(str(m.get("mount") or "") for m in members[1:]),
    )


def disks(facts: Mapping[str, Any]) -> tuple[Disk, ...]:
    """One entry per filesystem (device and size), pseudo filesystems left out.

    Bind mounts of one filesystem are folded into the entry of its first non-bind mount (else
    the shortest path outside /etc, /run, ...) and listed in ``also_mounted_at``. Used % counts
    the space reserved for root as used, so it reaches 100 when an ordinary process can write
    nothing more.
    """
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for mount in mappings(facts.get("ansible_mounts")):
        size = count(mount.get("size_total")) or 0
        if str(mount.get("fstype") or "") in PSEUDO_FS or size <= 0:
            continue
        groups.setdefault((str(mount.get("device") or ""), size), []).append(mount)
    found = [_disk(device, size, members) for (device, size), members in groups.items()]
    return tuple(sorted(found, key=lambda d: d.mount))


def _address(facts: Mapping[str, Any]) -> str | None:
    address = text(mapping(facts.get("ansible_default_ipv4")).get("address"))
    if address is None:
        addresses = facts.get("ansible_ip_addresses") or facts.get("ansible_all_ipv4_addresses")
        address = text(addresses[0]) if isinstance(addresses, list) and addresses else None
    return address


def read_facts(facts: Mapping[str, Any]) -> HostFacts:
    sockets = count(facts.get("ansible_processor_count"))
    per_socket = count(facts.get("ansible_processor_cores"))
    virt_type = text(facts.get("ansible_virtualization_type"))
    virt_role = text(facts.get("ansible_virtualization_role"))
    version = str(facts.get("ansible_distribution_version") or "")
    return HostFacts(
        os=os_label(facts),
        product=str(facts.get("ansible_os_name") or facts.get("ansible_distribution") or ""),
        distribution=str(facts.get("ansible_distribution") or ""),
        version=version,
        major_version=str(facts.get("ansible_distribution_major_version") or version.split(".")[0]),
        os_family=text(facts.get("ansible_os_family")),
        kernel=text(facts.get("ansible_kernel")),
        architecture=text(facts.get("ansible_architecture")),
        cpu_model=cpu_model(facts),
        cpu_sockets=sockets,
        cpu_cores=sockets * per_socket if sockets and per_socket else per_socket,
        cpu_threads=count(facts.get("ansible_processor_vcpus"))
        or count(facts.get("ansible_processor_nproc")),
        memory_mb=count(facts.get("ansible_memtotal_mb")),
        swap_mb=count(facts.get("ansible_swaptotal_mb")),
        disks=disks(facts),
        uptime_seconds=number(facts.get("ansible_uptime_seconds")),
        address=_address(facts),
        virtualization=f"{virt_type} ({virt_role})" if virt_type and virt_role else virt_type,
    )
