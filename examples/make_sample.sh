#!/usr/bin/env bash
# Rebuild examples/sample.tar: a small, real docker-archive made by umoci and
# skopeo (Debian packages), so the README's first command needs no Docker.
# Three layers: a base, an "apt install" that also deletes and chmods, an app.
# Reproducible: every timestamp (file mtimes, config and history dates) is
# SOURCE_DATE_EPOCH, 1700000000 (2023-11-14T22:13:20Z) by default -- the
# epoch of the committed sample, whose digests the README shows.
set -euo pipefail
out=$(realpath -m "${1:-"$(dirname "$0")/sample.tar"}")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
umoci init --layout oci
umoci new --image oci:sample
cfg() { umoci config --image oci:sample --created "$created" --history.created "$created" "$@"; }
step() {  # step "created_by" function: unpack, run the function on the rootfs, repack
  umoci unpack --rootless --image oci:sample b >/dev/null
  "$2" b/rootfs
  # umoci stores the files' mtimes: clamp them all (symlinks too, not their targets)
  find b/rootfs -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  umoci repack --image oci:sample --history.created_by "$1" --history.created "$created" b
  rm -rf b
}
base() {
  mkdir -p "$1"/{etc,usr/bin,usr/lib,usr/share/doc/base,var/cache,tmp}
  printf 'NAME="Sample"\nID=sample\nVERSION_ID=1\n' > "$1/etc/os-release"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$1/etc/passwd"
  head -c 24000 /dev/zero | tr '\0' 'b' > "$1/usr/bin/busybox"; chmod 755 "$1/usr/bin/busybox"
  ln -s busybox "$1/usr/bin/sh"; ln "$1/usr/bin/busybox" "$1/usr/bin/ls"
  seq 1 3000 > "$1/usr/share/doc/base/changelog"
}
install() {
  mkdir -p "$1/usr/lib/libfoo" "$1/var/cache/apt"
  head -c 40000 /dev/zero | tr '\0' 'l' > "$1/usr/lib/libfoo/libfoo.so.1"
  seq 1 5000 > "$1/var/cache/apt/pkgcache.bin"
  rm -rf "$1/usr/share/doc/base"
  chmod 700 "$1/usr/bin/busybox"
}
app() {
  mkdir -p "$1/app"
  printf '#!/bin/sh\necho hello from layerscope sample\n' > "$1/app/run.sh"; chmod 755 "$1/app/run.sh"
  rm -rf "$1/var/cache/apt"
  seq 1 2000 > "$1/app/data.txt"
}
step "/bin/sh -c #(nop) ADD file:base.tar in /" base
step "RUN /bin/sh -c apt-get install -y libfoo && rm -rf /usr/share/doc && chmod 700 /usr/bin/busybox" install
step "COPY app/ /app # buildkit" app
cfg --config.cmd /app/run.sh --config.workingdir /app --config.env PATH=/usr/bin
umoci gc --layout oci
skopeo --insecure-policy copy -q oci:oci:sample "docker-archive:$work/sample.tar:layerscope/sample:1.0"
cp "$work/sample.tar" "$out"
echo "wrote $out"
