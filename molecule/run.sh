#!/bin/bash
# Run a molecule command for the roles with podman, preparing this host once:
#   molecule/run.sh            -> molecule test (create, converge, idempotence, verify, destroy)
#   molecule/run.sh converge   -> any other molecule subcommand
# Prepared once and cached under $GOPHERNETES_CI_CACHE (default /var/tmp/gophernetes-ci):
#   - podman configuration (runc, cgroupfs, lowered ulimits; storage under the cache)
#   - the base image localhost/gophernetes-debian12-systemd: Debian 12 minbase with systemd,
#     made by debootstrap from Debian's mirror and imported into podman (no registry needed)
#   - the containers.podman collection, extracted from PyPI's `ansible` wheel (Galaxy is
#     unreachable; molecule's podman driver needs it)
# Every run snapshots the source and labs first (see GOPHERNETES_MOLECULE_SOURCE).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(dirname "$HERE")
CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
# what the base image holds; its hash names the cached tarball and the image tag, so a
# change here rebuilds both
INCLUDE=python3,python3-apt,procps,systemd,systemd-sysv,dbus,sudo
TAG=$(echo "$INCLUDE" | sha256sum | cut -c1-12)
IMAGE=localhost/gophernetes-debian12-systemd:$TAG
ANSIBLE_WHEEL_SPEC=${ANSIBLE_WHEEL_SPEC:-ansible>=12,<13}
# the Debian mirror this host already uses, unless told otherwise
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE/podman" "$CACHE/wheels" "$CACHE/collections"

# podman configuration (rendered every time: cheap, and follows edits)
cp "$HERE/podman/containers.conf" "$CACHE/podman/containers.conf"
sed "s#@CACHE@#$CACHE#g" "$HERE/podman/storage.conf.in" > "$CACHE/podman/storage.conf"
export CONTAINERS_CONF=$CACHE/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$CACHE/podman/storage.conf

# containers.podman from the ansible wheel, only that collection
if [ ! -f "$CACHE/collections/ansible_collections/containers/podman/MANIFEST.json" ]; then
  echo "molecule/run.sh: extracting containers.podman from PyPI's ansible wheel" >&2
  wheel=$(ls "$CACHE"/wheels/ansible-1*.whl 2>/dev/null | tail -1 || true)
  if [ -z "$wheel" ]; then
    python3 -m pip download -q --no-deps -d "$CACHE/wheels" "$ANSIBLE_WHEEL_SPEC"
    wheel=$(ls "$CACHE"/wheels/ansible-1*.whl | tail -1)
  fi
  python3 - "$wheel" "$CACHE/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("ansible_collections/containers/podman/")])
PY
fi

# the systemd base image: debootstrap once, keep the tarball, import when podman lacks it
tarball=$CACHE/debian12-systemd-$TAG.tar
if [ ! -s "$tarball" ]; then
  echo "molecule/run.sh: building the Debian 12 systemd base image (debootstrap, ~2 min)" >&2
  root=$CACHE/debian12-systemd.rootfs
  rm -rf "$root"
  debootstrap --variant=minbase --include="$INCLUDE" \
    bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  # the mirror may serve a frozen snapshot whose Release files look expired
  printf 'Acquire::Check-Valid-Until "false";\nAcquire::Languages "none";\n' > "$root/etc/apt/apt.conf.d/99gophernetes-ci"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
fi
if ! podman image exists "$IMAGE"; then
  podman import --change 'CMD ["/sbin/init"]' "$tarball" "$IMAGE" >/dev/null
fi

# a snapshot of the source and the labs, taken now: the roles install exactly this, so
# edits made in the checkout while molecule runs cannot make the idempotence step fail
SNAPSHOT=$CACHE/molecule-source
rm -rf "$SNAPSHOT"; mkdir -p "$SNAPSHOT"
( cd "$PROJECT" && tar --exclude=__pycache__ --exclude='*.pyc' --exclude=.pytest_cache -cf - \
    $(ls -d pyproject.toml README.md LICENSE gophernetes labs 2>/dev/null) ) | tar -C "$SNAPSHOT" -xf -
export GOPHERNETES_MOLECULE_SOURCE=$SNAPSHOT

export ANSIBLE_COLLECTIONS_PATH=$CACHE/collections
export GOPHERNETES_MOLECULE_IMAGE=$IMAGE
cd "$PROJECT"
if [ $# -eq 0 ]; then set -- test; fi
exec molecule "$@"
