#!/bin/bash
# Make the cached CI box (build-box.sh) known to vagrant as gophernetes/debian12-ci; add
# it again only when the box file changed. Shared by run-e2e.sh and molecule/run-vm.sh.
# Uses VAGRANT_HOME (default: the CI cache's vagrant.d).
set -euo pipefail
CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
export VAGRANT_HOME=${VAGRANT_HOME:-$CACHE/vagrant.d}
export VAGRANT_CHECKPOINT_DISABLE=1
NAME=gophernetes/debian12-ci
want=$(cat "$CACHE/box/debian12-libvirt.box.sha256")
stamp=$VAGRANT_HOME/gophernetes-box.sha256
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && timeout 60 vagrant box list 2>/dev/null | grep -q "^$NAME "; then
  exit 0
fi
mkdir -p "$VAGRANT_HOME"
timeout 300 vagrant box add -f --name "$NAME" "$CACHE/box/debian12-libvirt.box"
echo "$want" > "$stamp"
