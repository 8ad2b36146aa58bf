#!/bin/sh
# Build the fleet lab's seed once per `maint lab up`, in a throwaway lab container, into /out:
#   backup/healthy  restic repository with a fresh snapshot of data/ (every host starts with it)
#   backup/stale    the same data, its only snapshot dated 30 days ago (fault backup-stale)
#   backup/lab.pass the repositories' password (a lab value, not a secret)
#   data/           the backed-up source tree every host gets at /srv/data
#   clamav/fresh    main.cud and daily.cud built now (every host starts with them)
#   clamav/stale    the same, their headers dated 30 days ago (fault av-stale)
# The hosts copy from it (mounted read-only at /srv/maint-seed): restic's key derivation and
# sigtool run once here instead of once per host.
set -eu
out=${1:-/out}
# An image built from an older recipe lacks restic and ClamAV: the parts that need them are left
# out (maint lab then refuses the faults that need them and configures no repository).
rm -rf "$out/backup" "$out/data" "$out/clamav"

# The source tree, at the path the hosts restore and compare against: a config file, the canary
# and a 512 KiB blob that makes the biggest data pack.
rm -rf /srv/data
mkdir -p /srv/data/etc /srv/data/home /srv/data/db
printf 'listen = 8080\n' >/srv/data/etc/app.conf
printf 'maint lab canary\n' >/srv/data/home/canary.txt
dd if=/dev/urandom of=/srv/data/db/blob.bin bs=4096 count=128 status=none
cp -a /srv/data "$out/data"

seed_backup() {
  mkdir -p "$out/backup"
  printf 'maint-lab-backup-password\n' >"$out/backup/lab.pass"
  chmod 0600 "$out/backup/lab.pass"
  export RESTIC_PASSWORD_FILE="$out/backup/lab.pass" RESTIC_CACHE_DIR=/tmp/restic-cache
  stale_time=$(date -u -d '30 days ago' '+%Y-%m-%d %H:%M:%S')
  for repo in healthy stale; do
    restic init --quiet --repo "$out/backup/$repo"
  done
  restic backup --quiet --repo "$out/backup/healthy" /srv/data
  restic backup --quiet --repo "$out/backup/stale" --time "$stale_time" /srv/data
}

# ClamAV databases: one lab signature that matches no file, in unsigned containers (.cud) with
# the same header as the official .cvd files; sigtool asks for the version and builder on stdin.
seed_clamav() {
  mkdir -p "$out/clamav/fresh" "$out/clamav/stale"
  sig=$(printf 'maint lab: no file carries this content\n' | md5sum | cut -d' ' -f1)
  for name in main daily; do
    # sigtool builds from every signature file in the working directory: one directory each.
    db=$(mktemp -d)
    cd "$db"
    printf 'maint lab test definitions: not the official ClamAV databases\n' >COPYING
    printf '%s:40:Maint.Lab.%s\n' "$sig" "$name" >"$name.hdb"
    printf '27000\nmaintlab\n' | sigtool --build="$name.cud" --unsigned >/dev/null 2>&1
    cp "$name.cud" "$out/clamav/fresh/$name.cud"
    # The stale copy: the build time (text and epoch) 30 days back in both places libclamav
    # compares, the file header and the header line of the .info member; the body is repacked
    # and its MD5 written into the header.
    python3 - "$name.cud" "$out/clamav/stale/$name.cud" <<'PY'
import gzip, hashlib, io, sys, tarfile, time

src, dst = sys.argv[1:3]
raw = open(src, "rb").read()
when = int(time.time()) - 30 * 86400
stamp = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(when))


def redate(line, md5=None):
    fields = line.split(":")
    fields[1], fields[8] = stamp, str(when)
    if md5:
        fields[5] = md5
    return ":".join(fields)


body = io.BytesIO()
with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw[512:]))) as old, tarfile.open(
    fileobj=body, mode="w", format=tarfile.USTAR_FORMAT
) as new:
    for member in old.getmembers():
        data = old.extractfile(member).read()
        if member.name.endswith(".info"):
            first, _, rest = data.decode("latin-1").partition("\n")
            data = (redate(first) + "\n" + rest).encode("latin-1")
            member.size = len(data)
        new.addfile(member, io.BytesIO(data))
packed = gzip.compress(body.getvalue(), mtime=0)
header = raw[:512].rstrip(b"\0 ").decode("latin-1")
header = redate(header, hashlib.md5(packed).hexdigest()).encode("latin-1").ljust(512, b" ")
open(dst, "wb").write(header + packed)
PY
    cd /
    rm -rf "$db"
  done
  sigtool --info="$out/clamav/stale/daily.cud" | grep -q 'Build time' || {
    echo "seed: sigtool cannot read the dated database header" >&2
    exit 1
  }
}

if command -v restic >/dev/null 2>&1; then
  seed_backup
fi
if command -v sigtool >/dev/null 2>&1; then
  seed_clamav
fi
