#!/bin/bash
# Undo start-libvirt.sh: remove whatever VMs the CI left (domains named gophernetes_ci_*
# by run-e2e.sh, gophernetes_mol_* by molecule/vm), the CI pool, and stop the daemons it
# started (by pid).
CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
RUN=$CACHE/libvirt-run
POOL=gophernetes-ci
if virsh -c qemu:///system version >/dev/null 2>&1; then
  for dom in $(virsh -c qemu:///system list --all --name 2>/dev/null | grep -E '^gophernetes_(ci|mol)_'); do
    virsh -c qemu:///system destroy "$dom" >/dev/null 2>&1
    virsh -c qemu:///system undefine "$dom" --remove-all-storage >/dev/null 2>&1
  done
  for vol in $(virsh -c qemu:///system vol-list "$POOL" 2>/dev/null | awk 'NR>2 && $1 {print $1}'); do
    virsh -c qemu:///system vol-delete --pool "$POOL" "$vol" >/dev/null
  done
  virsh -c qemu:///system pool-destroy "$POOL" >/dev/null 2>&1
  virsh -c qemu:///system pool-undefine "$POOL" >/dev/null 2>&1
fi
if [ -f "$RUN/started-by-us" ]; then
  for daemon in $(sort -u "$RUN/started-by-us"); do
    pid=$(cat "$RUN/$daemon.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  rm -f "$RUN/started-by-us"
fi
exit 0
