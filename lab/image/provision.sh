#!/bin/bash
# Runs inside the debootstrapped rootfs (chroot) while building the lab image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Services may start when their packages are installed, as on a real host.
rm -f /usr/sbin/policy-rc.d

# The maintenance account Ansible connects with: key-based login (keys are added per lab
# host at start), passwordless sudo validated before it is installed.
if ! id maint >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --uid 1000 maint
fi
passwd -l maint >/dev/null
install -d -m 0700 -o maint -g maint /home/maint/.ssh
printf 'maint ALL=(ALL:ALL) NOPASSWD: ALL\n' >/tmp/maint.sudoers
visudo -cf /tmp/maint.sudoers >/dev/null
install -m 0440 /tmp/maint.sudoers /etc/sudoers.d/maint
rm -f /tmp/maint.sudoers

# sshd: host keys baked per image, privilege separation dir, keys only.
mkdir -p /run/sshd
ssh-keygen -A >/dev/null
cat >/etc/ssh/sshd_config.d/10-lab.conf <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
CONF
sshd -t

apt-get clean
rm -rf /var/lib/apt/lists/*
