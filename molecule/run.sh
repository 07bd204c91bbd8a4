#!/bin/bash
# Run a molecule command for the roles, preparing this host once:
#   molecule/run.sh                  -> molecule test of the roles in podman (scenario default)
#   molecule/run.sh converge         -> any other molecule subcommand
#   molecule/run.sh test -s vm       -> the lab VM (scenario vm): site.yml converged in a real
#                                       Debian 12 VM (vagrant driver, libvirt, QEMU) and every
#                                       lab proven there, on cgroup v2
# Prepared once and cached under $GOPHERNETES_CI_CACHE (default /var/tmp/gophernetes-ci):
#   - podman configuration (runc, cgroupfs, lowered ulimits; storage under the cache)
#   - the base image localhost/gophernetes-debian12-systemd: Debian 12 minbase with systemd,
#     made by debootstrap from Debian's mirror and imported into podman (no registry needed)
#   - the containers.podman collection, extracted from PyPI's `ansible` wheel (Galaxy is
#     unreachable; molecule's podman driver needs it)
#   - for the vm scenario instead: the Debian 12 box (tests/system/vm/build-box.sh), libvirt's
#     daemons (started for the run, stopped after) and a community.vagrant collection made
#     from the vagrant module of PyPI's archived molecule-vagrant 2.0.0 (again, no Galaxy)
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
SCENARIO=default
args=" $* "
case $args in *" -s vm "*|*" --scenario-name vm "*|*" --scenario-name=vm "*) SCENARIO=vm;; esac
mkdir -p "$CACHE/wheels" "$CACHE/collections"

prepare_podman() {
  # podman configuration (rendered every time: cheap, and follows edits)
  mkdir -p "$CACHE/podman"
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
}

# The lab VM's side: the CI box, libvirt for the run, the community.vagrant collection.
prepare_vm() {
  export VAGRANT_HOME=$CACHE/vagrant.d VAGRANT_DEFAULT_PROVIDER=libvirt VAGRANT_CHECKPOINT_DISABLE=1
  export LIBVIRT_DEFAULT_URI=qemu:///system
  "$PROJECT/tests/system/vm/build-box.sh" >/dev/null
  "$PROJECT/tests/system/vm/start-libvirt.sh"
  "$PROJECT/tests/system/vm/add-box.sh"
  local collection=$CACHE/collections/ansible_collections/community/vagrant
  if [ ! -f "$collection/plugins/modules/vagrant.py" ]; then
    echo "molecule/run.sh: making community.vagrant from PyPI's molecule-vagrant 2.0.0" >&2
    python3 -m pip download -q --no-deps -d "$CACHE/wheels" molecule-vagrant==2.0.0
    mkdir -p "$collection/plugins/modules" "$collection/meta"
    python3 - "$CACHE/wheels/molecule_vagrant-2.0.0-py3-none-any.whl" "$collection" <<'PY'
import sys, zipfile
wheel, collection = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    module = z.read("molecule_vagrant/modules/vagrant.py")
with open(f"{collection}/plugins/modules/vagrant.py", "wb") as out:
    out.write(module)
PY
    echo 'requires_ansible: ">=2.12"' > "$collection/meta/runtime.yml"
  fi
}


# a snapshot of the source and the labs, taken now: the roles install exactly this, so
# edits made in the checkout while molecule runs cannot make the idempotence step fail
SNAPSHOT=$CACHE/molecule-source-$SCENARIO
rm -rf "$SNAPSHOT"; mkdir -p "$SNAPSHOT"
( cd "$PROJECT" && tar --exclude=__pycache__ --exclude='*.pyc' --exclude=.pytest_cache -cf - \
    $(ls -d pyproject.toml README.md LICENSE gophernetes labs 2>/dev/null) ) | tar -C "$SNAPSHOT" -xf -
export GOPHERNETES_MOLECULE_SOURCE=$SNAPSHOT
# molecule reads every scenario's molecule.yml, so each one's variables are set
export GOPHERNETES_MOLECULE_IMAGE=$IMAGE
export ANSIBLE_COLLECTIONS_PATH=$CACHE/collections
cd "$PROJECT"
if [ $# -eq 0 ]; then set -- test; fi
if [ "$SCENARIO" = vm ]; then
  # after `test` or `destroy`, whatever a failed or interrupted run left: our VMs, the pool,
  # libvirt's daemons we started (after `converge` the VM stays up for `login` and `verify`)
  case $1 in test|destroy) trap '"$PROJECT/tests/system/vm/stop-libvirt.sh"' EXIT;; esac
  prepare_vm
  molecule "$@"
else
  prepare_podman
  # podman's default network makes the bridge cni-podman0 in the host's namespace and
  # keeps it; after `test` or `destroy`, a bridge this run made goes again
  if [ "$1" = test ] || [ "$1" = destroy ]; then
    if ! ip link show cni-podman0 >/dev/null 2>&1; then
      trap 'ip link show cni-podman0 >/dev/null 2>&1 && ip link delete cni-podman0' EXIT
    fi
    molecule "$@"
  else
    exec molecule "$@"
  fi
fi
