#!/usr/bin/env bash
# Builds the drlab-lab container image from a debootstrapped Debian bookworm rootfs (no registry needed).
#
# Usage: lab/images/build.sh            -> prints progress on stderr, image reference on the last stdout line
#        img=$(lab/images/build.sh)     -> e.g. img=drlab-lab:0123456789ab
#
# The tag is a hash of the recipe (this script + packages.txt + everything under rootfs/), so the
# image is only rebuilt when the recipe changes. drlab-lab:latest is pointed at the result as well.
#
# Environment knobs (all optional):
#   DRLAB_MIRROR          Debian mirror (default: the one apt on this machine uses, else deb.debian.org)
#   DRLAB_SUITE           default bookworm (part of the recipe hash only through this script's default)
#   DRLAB_IMAGE_REPO      default drlab-lab
#   DRLAB_DEB_CACHE       debootstrap .deb cache dir (default /var/cache/drlab/debootstrap; "" disables)
#   DRLAB_WORKDIR         where the rootfs is assembled (default /var/tmp)
#   DRLAB_FORCE=1         rebuild even if the image already exists
#   DRLAB_PRUNE_OLD=1     after a build, remove older $DRLAB_IMAGE_REPO:<hash> tags (ignored if in use)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${DRLAB_SUITE:-bookworm}
repo=${DRLAB_IMAGE_REPO:-drlab-lab}
deb_cache=${DRLAB_DEB_CACHE-/var/cache/drlab/debootstrap}
workdir=${DRLAB_WORKDIR:-/var/tmp}
t0=$SECONDS

log() { printf '[build %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

# ---------------------------------------------------------------- recipe hash
recipe_hash() {
  (
    cd "$here"
    # content + name of every recipe file, and its exec bit (the only mode bit git keeps)
    find build.sh packages.txt rootfs -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    find rootfs -type f -perm -u+x -print | LC_ALL=C sort
    echo "suite=$suite"
  ) | sha256sum | cut -c1-12
}

[ -f "$here/packages.txt" ] || die "missing $here/packages.txt"
command -v docker >/dev/null || die "docker CLI not found"

hash=$(recipe_hash)
image="$repo:$hash"

if [ -z "${DRLAB_FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image is up to date (recipe unchanged), nothing to build"
  docker tag "$image" "$repo:latest"
  echo "$image"
  exit 0
fi

# Serialise concurrent builds of the same recipe (several workers may call this at once).
lockfile=${TMPDIR:-/tmp}/drlab-images-build.lock
exec 9>"$lockfile"
log "waiting for build lock $lockfile"
flock 9
if [ -z "${DRLAB_FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image was built by a concurrent run"
  docker tag "$image" "$repo:latest"
  echo "$image"
  exit 0
fi

log "building $image (suite $suite)"

# ---------------------------------------------------------------- mirror
detect_mirror() {
  local f uri
  # deb822 *.sources: take the URIs of a stanza whose Suites contain plain "$suite"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v s="$suite" '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; ok=0; en=1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/) continue
          if ($i ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u = a[1] }
          if ($i ~ /^Suites:/)  { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) en = 0
        }
        if (ok && en && u != "") { print u; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  # one-line format: deb [opts] URI SUITE components...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v s="$suite" '
      $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == s) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}
mirror=${DRLAB_MIRROR:-$(detect_mirror)}
log "mirror: $mirror"

# ---------------------------------------------------------------- debootstrap itself
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
  log "installing debootstrap via apt"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap debian-archive-keyring >&2
fi
debootstrap_bin=$(command -v debootstrap || echo /usr/sbin/debootstrap)
keyring_args=()
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
  keyring_args=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)

packages=$(sed -e 's/#.*//' "$here/packages.txt" | tr -s ' \t\r\n' '\n' | sed '/^$/d' | paste -sd, -)
[ -n "$packages" ] || die "packages.txt lists no packages"
log "packages: $packages"

# ---------------------------------------------------------------- scratch dir + cleanup
rootfs=$("${SUDO[@]}" mktemp -d "$workdir/drlab-rootfs.XXXXXX")
buildlog="$workdir/drlab-build-$hash.log"
cleanup() {
  local rc=$?
  # debootstrap mounts proc/sys (and may bind /dev); never rm across a mount point
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r); do
    "${SUDO[@]}" umount -l "$m" 2>/dev/null || true
  done
  if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then
    log "WARNING: mounts left under $rootfs, not removing it"
  else
    "${SUDO[@]}" rm -rf --one-file-system "$rootfs"
  fi
  if [ $rc -ne 0 ]; then
    log "FAILED (rc=$rc); last lines of $buildlog:"
    tail -n 30 "$buildlog" >&2 2>/dev/null || true
  fi
}
trap cleanup EXIT

cache_args=()
if [ -n "$deb_cache" ]; then
  "${SUDO[@]}" mkdir -p "$deb_cache"
  cache_args=(--cache-dir="$deb_cache")
fi

log "step 1/4: debootstrap --variant=minbase $suite -> $rootfs (log: $buildlog)"
: >"$buildlog"
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$debootstrap_bin" \
    --variant=minbase --include="$packages" "${keyring_args[@]}" "${cache_args[@]}" \
    "$suite" "$rootfs" "$mirror" >>"$buildlog" 2>&1; then
  die "debootstrap failed"
fi
log "step 1/4: debootstrap done"

log "step 2/4: copying rootfs/ overlay and trimming"
if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then
  die "debootstrap left file systems mounted under $rootfs"
fi
# samba's postinst writes a member-server smb.conf; ours (rootfs/etc/samba/smb.conf) is client-only
"${SUDO[@]}" rm -f "$rootfs/etc/samba/smb.conf"
# copy the overlay (owned by root, no group/other write whatever the checkout umask; directories
# that already exist in the rootfs keep their metadata)
"${SUDO[@]}" tar -C "$here/rootfs" -c --owner=0 --group=0 --mode=go-w . |
  "${SUDO[@]}" tar -C "$rootfs" -x --no-overwrite-dir
"${SUDO[@]}" sh -eu -c '
  r=$1
  # per-container secrets are (re)generated by drlab-entry at start, never baked into the image
  rm -f "$r"/etc/ssh/ssh_host_* "$r"/etc/ssl/private/ssl-cert-snakeoil.key "$r"/etc/ssl/certs/ssl-cert-snakeoil.pem
  : > "$r"/etc/machine-id
  # services must not be auto-started by package scripts if someone apt-get installs inside a container
  printf "#!/bin/sh\nexit 101\n" > "$r"/usr/sbin/policy-rc.d; chmod 755 "$r"/usr/sbin/policy-rc.d
  # trim: downloaded debs, apt lists, docs, man pages, non-English locales
  rm -rf --one-file-system "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
         "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/log/*.log \
         "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
  find "$r"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name "en*" ! -name locale.alias -exec rm -rf {} +
  rm -rf --one-file-system "$r"/tmp/* "$r"/run/* "$r"/dev/* "$r"/proc/* "$r"/sys/*
  echo "'"$hash"'" > "$r"/etc/drlab-image
' sh "$rootfs"
log "step 2/4: done"

log "step 3/4: docker import -> $image"
"${SUDO[@]}" tar -C "$rootfs" -c --numeric-owner . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV ROLE=client' \
  --change "LABEL org.drlab.recipe=$hash org.drlab.suite=$suite" \
  --change 'CMD ["/usr/local/sbin/drlab-entry"]' \
  --message "drlab-lab recipe $hash ($suite)" \
  - "$image" >&2
docker tag "$image" "$repo:latest"
log "step 3/4: done"

if [ -n "${DRLAB_PRUNE_OLD:-}" ]; then
  docker image ls --filter "label=org.drlab.recipe" --format '{{.Repository}}:{{.Tag}}' |
    grep "^$repo:" | grep -vxF -e "$image" -e "$repo:latest" |
    while read -r old; do docker image rm "$old" >/dev/null 2>&1 && log "pruned $old" || true; done
fi

size=$(docker image inspect -f '{{.Size}}' "$image")
log "step 4/4: built $image ($((size / 1024 / 1024)) MiB) in $((SECONDS - t0))s"
echo "$image"
