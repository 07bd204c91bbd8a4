#!/usr/bin/env bash
# Lab 09 back to its start: the four containers (containerd's task in namespace lab09 and
# the namespace, gophernetes-runtime's, runc's, gophernetes' engine's), the empty cgroup
# folders ctr's /lab09/ID path leaves, and /srv/lab09 (the bundle, the image, the specs).
set -u
. "$(dirname "$0")/../lib.sh"
if ctr namespaces ls -q 2>/dev/null | grep -qx lab09; then
  ctr -n lab09 tasks kill -s SIGKILL lab09-ctr >/dev/null 2>&1
  for try in 1 2 3 4 5 6 7 8 9 10; do
    ctr -n lab09 tasks rm -f lab09-ctr >/dev/null 2>&1 && break
    ctr -n lab09 tasks ls -q 2>/dev/null | grep -qx lab09-ctr || break
    sleep 0.2
  done
  ctr -n lab09 containers rm lab09-ctr >/dev/null 2>&1
  ctr namespaces rm lab09 >/dev/null 2>&1
fi
gophernetes-runtime delete --force lab09-gn >/dev/null 2>&1
runc delete --force lab09-runc >/dev/null 2>&1
gophernetes rm -f lab09-native >/dev/null 2>&1
for cgroup in /sys/fs/cgroup/lab09 /sys/fs/cgroup/*/lab09; do
  [ -d "$cgroup" ] && rmdir "$cgroup" 2>/dev/null
done
rmdir /run/containerd/runc/lab09 2>/dev/null   # the shim's --root for the namespace, empty now
unmount_all /srv/lab09 && rm -rf /srv/lab09
exit 0
