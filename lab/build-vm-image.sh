#!/usr/bin/env bash
# Build the lab VM image: one full Debian 12 host for qemu, made from the lab container image
# (lab/build-image.sh: the same debootstrap recipe, not a second one) plus Debian's
# linux-image-amd64 kernel, systemd as init and the boot-time setup in lab/vm/.
#
# The result is a directory holding disk.qcow2 (one ext4 file system, label maint-root) and the
# kernel and initrd from its /boot, for direct kernel boot (qemu -kernel/-initrd; no boot loader).
# Cached: the directory is named after a hash of the whole recipe (the container image's recipe
# tag, this script and lab/vm/*); when it exists, nothing is rebuilt.
#
# Usage: lab/build-vm-image.sh [--force] [--print-dir]
#   MAINT_LAB_VM_CACHE: where the images are kept (default: /var/cache/maint-lab/vm, shared by
#   every checkout on the machine like the container image in Podman's storage)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MAINT_LAB_VM_CACHE:-/var/cache/maint-lab/vm}
disk_size=${MAINT_LAB_VM_DISK_SIZE:-8G}

container_tag=$("$here/build-image.sh" --print-tag)
recipe_hash=$({ echo "$container_tag"; cat "$here/build-vm-image.sh" "$here"/vm/*; } | sha256sum | cut -c1-12)
out="$cache/maint-lab-vm-$recipe_hash"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$out"
  exit 0
fi

die() { echo "build-vm-image: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot, the lab image); run 'sudo make lab-vm-image'"
missing=()
for tool in podman qemu-img mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}; install with: apt-get install -y podman qemu-utils e2fsprogs"

if [ "${1:-}" != "--force" ] && [ -f "$out/disk.qcow2" ]; then
  echo "build-vm-image: $out is up to date"
  exit 0
fi

# The container image first (cached by its own recipe hash): its file system is the VM's.
"$here/build-image.sh" >&2

mkdir -p "$cache"
work=$(mktemp -d "$cache/.build.XXXXXX")
rootfs="$work/rootfs"
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  podman rm -f "maint-lab-vm-export-$recipe_hash" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "build-vm-image: exporting $container_tag"
mkdir -p "$rootfs"
podman create --name "maint-lab-vm-export-$recipe_hash" "$container_tag" >/dev/null
podman export "maint-lab-vm-export-$recipe_hash" | tar -C "$rootfs" --numeric-owner -xf -
podman rm "maint-lab-vm-export-$recipe_hash" >/dev/null

# chroot with the kernel's file systems; no service may start on the build machine meanwhile.
for fs in proc sys dev dev/pts; do
  mkdir -p "$rootfs/$fs"
  mount --bind "/$fs" "$rootfs/$fs"
  mounted=("$rootfs/$fs" "${mounted[@]}")
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

packages=$(grep -v '^#' "$here/vm/packages.txt" | xargs)
echo "build-vm-image: installing $packages"
chroot "$rootfs" /bin/bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
  apt-get install -y -qq --no-install-recommends $packages" >"$work/apt.log" 2>&1 \
  || { tail -n 30 "$work/apt.log" >&2; die "installing the VM packages failed"; }

cp "$here/vm/maint-lab-boot" "$here/vm/maint-lab-boot.service" "$here/vm/provision.sh" "$rootfs/tmp/"
chroot "$rootfs" /bin/bash /tmp/provision.sh
rm -f "$rootfs/tmp/maint-lab-boot" "$rootfs/tmp/maint-lab-boot.service" "$rootfs/tmp/provision.sh"
rm -f "$rootfs/usr/sbin/policy-rc.d"
for m in "${mounted[@]}"; do umount "$m"; done
mounted=()

image="$work/image"
mkdir -p "$image"
kernel=$(cd "$rootfs/boot" && ls vmlinuz-* | sort -V | tail -n 1)
initrd="initrd.img-${kernel#vmlinuz-}"
[ -f "$rootfs/boot/$initrd" ] || die "no $initrd in the image's /boot"
cp "$rootfs/boot/$kernel" "$image/vmlinuz"
cp "$rootfs/boot/$initrd" "$image/initrd.img"
echo "${kernel#vmlinuz-}" >"$image/kernel-release"

echo "build-vm-image: making the disk ($disk_size, ext4)"
mkfs.ext4 -q -L maint-root -d "$rootfs" "$work/disk.raw" "$disk_size"
qemu-img convert -O qcow2 "$work/disk.raw" "$image/disk.qcow2"
echo "$container_tag" >"$image/container-image"

rm -rf "$out"
mv "$image" "$out"
echo "build-vm-image: built $out"
