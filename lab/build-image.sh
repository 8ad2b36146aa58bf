#!/usr/bin/env bash
# Build the lab image: Debian 12 (bookworm) from debootstrap, imported into Podman.
#
# Cached: the image tag is a hash of this recipe (this script and lab/image/*); when an image
# with that tag exists, nothing is rebuilt. The result is always also tagged
# localhost/maint-lab:latest, which Molecule scenarios and the fleet use.
#
# Usage: lab/build-image.sh [--force] [--print-tag]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image_repo=${MAINT_LAB_IMAGE:-localhost/maint-lab}
suite=bookworm

recipe_hash=$(cat "$here/build-image.sh" "$here"/image/* | sha256sum | cut -c1-12)
tag="$image_repo:$recipe_hash"

if [ "${1:-}" = "--print-tag" ]; then
  echo "$tag"
  exit 0
fi

die() { echo "build-image: $*" >&2; exit 1; }

missing=()
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "$(id -u)" != 0 ]; then
  die "must run as root (debootstrap and rootful Podman); missing tools: ${missing[*]:-none}. Run 'sudo make lab-image' or install podman, runc and debootstrap and rerun as root."
fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing ${missing[*]}; install with: apt-get install -y podman runc debootstrap"
fi

# Podman on this kind of machine: runc (crun fails on hybrid cgroups) and explicit ulimits.
"$here/configure-podman.sh"

if [ "${1:-}" != "--force" ] && podman image exists "$tag"; then
  podman tag "$tag" "$image_repo:latest"
  echo "build-image: $tag is up to date"
  exit 0
fi

# The mirror the machine's own apt sources name (deb822 first, then one-line format).
mirror=""
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(http|https|file):/) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources"
security_mirror=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)

packages=$(grep -v '^#' "$here/image/packages.txt" | xargs | tr ' ' ',')
work=$(mktemp -d /var/tmp/maint-lab.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "build-image: debootstrap $suite from $mirror (packages: $packages)"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -n "$security_mirror" ] && echo "deb $security_mirror $suite-security main"
} >"$rootfs/etc/apt/sources.list"

# Provision inside the rootfs: the maintenance account, sshd, clean caches.
cp "$here/image/provision.sh" "$rootfs/tmp/provision.sh"
chroot "$rootfs" /bin/bash /tmp/provision.sh
rm -f "$rootfs/tmp/provision.sh"

echo "build-image: importing into podman as $tag"
tar -C "$rootfs" --numeric-owner -c . | podman import \
  --change 'CMD ["/bin/sleep", "infinity"]' \
  --change 'ENV LANG=C.UTF-8' \
  --message "maint lab image, recipe $recipe_hash" - "$tag" >/dev/null
podman tag "$tag" "$image_repo:latest"
echo "build-image: built $tag"
