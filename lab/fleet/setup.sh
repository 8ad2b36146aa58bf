#!/bin/sh
# The baseline of a fleet lab host, run as the container's command before sshd starts (and
# runnable again with podman exec: it resets the host to the baseline). A host in good order:
#   - the maint account logs in with the lab key (MAINT_LAB_PUBKEY);
#   - with the fixture repository (mounted at /srv/maint-fixture) and MAINT_LAB_FIXTURE=latest:
#     apt reads only the fixture repository, maint-fixture and maint-fixture-tools are installed
#     at their newest version, the fixture daemon runs, no reboot is pending
#     (MAINT_LAB_FIXTURE=sources: the repository only; the fault outdated installs 1.0);
#   - a restic repository /srv/backup/lab with a fresh snapshot of /srv/data (from the seed);
#   - ClamAV main and daily databases built at `maint lab up` time;
#   - root login over SSH disabled in the hardening role's sshd drop-in, as on a fleet that was
#     onboarded with it (the fault weak-sshd turns it back on).
# The seed built by seed.sh is mounted read-only at /srv/maint-seed.
set -eu
seed=/srv/maint-seed
export DEBIAN_FRONTEND=noninteractive

install -d -m 0700 -o maint -g maint /home/maint/.ssh
printf '%s\n' "${MAINT_LAB_PUBKEY:?the lab public key}" >/home/maint/.ssh/authorized_keys
chown maint:maint /home/maint/.ssh/authorized_keys
chmod 0600 /home/maint/.ssh/authorized_keys

case "${MAINT_LAB_FIXTURE:-none}" in
  none) ;;
  latest | sources)
    [ -f /etc/apt/sources.list ] && mv /etc/apt/sources.list /etc/apt/sources.list.disabled
    printf 'deb [trusted=yes] file:/srv/maint-fixture/main ./\ndeb [trusted=yes] file:/srv/maint-fixture/security ./\n' \
      >/etc/apt/sources.list.d/maint-fixture.list
    apt-get update -qq
    if [ "$MAINT_LAB_FIXTURE" = latest ]; then
      apt-get install -y -qq --allow-downgrades maint-fixture maint-fixture-tools >/dev/null 2>&1
      # Installed at provisioning: the host has been restarted since.
      rm -f /run/reboot-required /run/reboot-required.pkgs
      # Under systemd (the VM lab host), its init script becomes a unit on the next reload.
      if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
      service maint-fixture start >/dev/null
    fi
    ;;
  *)
    echo "setup: MAINT_LAB_FIXTURE must be none, latest or sources" >&2
    exit 2
    ;;
esac

rm -rf /srv/data
cp -a "$seed/data" /srv/data
# (An image of an older recipe has no restic or ClamAV: the seed then has no such part.)
if [ -d "$seed/backup" ]; then
  install -d -m 0700 /etc/maint /etc/maint/backup /srv/backup
  install -m 0600 "$seed/backup/lab.pass" /etc/maint/backup/lab.pass
  rm -rf /srv/backup/lab
  cp -a "$seed/backup/healthy" /srv/backup/lab
fi
if [ -d "$seed/clamav" ]; then
  install -o clamav -g clamav -m 0644 "$seed/clamav/fresh/main.cud" \
    "$seed/clamav/fresh/daily.cud" /var/lib/clamav/
fi

install -d -m 0755 /etc/ssh/sshd_config.d
printf 'PermitRootLogin no\n' >/etc/ssh/sshd_config.d/00-maint-hardening.conf
chmod 0600 /etc/ssh/sshd_config.d/00-maint-hardening.conf
