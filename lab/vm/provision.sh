#!/bin/bash
# Runs inside the lab image's filesystem (chroot) while building the lab VM image, after the
# packages of lab/vm/packages.txt are installed: what turns the container's filesystem into a
# host that boots on its own with systemd. The maintenance account, sshd and its keys come from
# the container recipe (lab/image/provision.sh) unchanged.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# The root filesystem is the whole virtio disk (direct kernel boot: no partition table, no
# boot loader; the kernel and initrd are taken from /boot and given to qemu).
cat >/etc/fstab <<'FSTAB'
# <file system>   <mount point>  <type>  <options>          <dump>  <pass>
LABEL=maint-root  /              ext4    errors=remount-ro  0       1
FSTAB

# User-mode networking (slirp): the guest is 10.0.2.15, the host 10.0.2.2, DNS 10.0.2.3.
mkdir -p /etc/systemd/network
cat >/etc/systemd/network/10-lab.network <<'NET'
[Match]
Type=ether

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DNS=10.0.2.3
NET
printf 'nameserver 10.0.2.3\n' >/etc/resolv.conf
printf 'maint-lab-vm\n' >/etc/hostname
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts

# The boot-time setup from the lab (lab/vm/maint-lab-boot), then sshd on port 22.
install -m 0755 /tmp/maint-lab-boot /usr/local/sbin/maint-lab-boot
install -m 0644 /tmp/maint-lab-boot.service /etc/systemd/system/maint-lab-boot.service
systemctl enable maint-lab-boot.service systemd-networkd.service ssh.service serial-getty@ttyS0.service
# Nothing waits for the network to be "online": sshd listens on all addresses anyway.
systemctl mask systemd-networkd-wait-online.service
# No root password: the console (serial) logs nobody in; operators use the maint account.
passwd -l root >/dev/null

# A VM lab host starts from this image every time: no machine-id baked in (systemd makes one).
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id

apt-get clean
rm -rf /var/lib/apt/lists/*
