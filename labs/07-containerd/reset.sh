#!/usr/bin/env bash
# Lab 07 back to its start: thaw, kill and remove lab07-ctr; remove the lab's images from
# both containerd namespaces, gophernetes' lab07 container, and the lab07 namespace.
set -u
REGISTRY=${REGISTRY:-127.0.0.1:5000}
if ctr namespaces ls -q 2>/dev/null | grep -qx lab07; then
  ctr -n lab07 tasks resume lab07-ctr >/dev/null 2>&1
  ctr -n lab07 tasks kill -s SIGKILL lab07-ctr >/dev/null 2>&1
  for try in 1 2 3 4 5 6 7 8 9 10; do
    ctr -n lab07 tasks rm -f lab07-ctr >/dev/null 2>&1 && break
    ctr -n lab07 tasks ls -q 2>/dev/null | grep -qx lab07-ctr || break
    sleep 0.2
  done
  ctr -n lab07 containers rm lab07-ctr >/dev/null 2>&1
  ctr -n lab07 images rm --sync "$REGISTRY/busybox:latest" >/dev/null 2>&1
  ctr namespaces rm lab07 >/dev/null 2>&1
fi
gophernetes --engine containerd rm -f lab07 >/dev/null 2>&1
gophernetes --engine containerd rmi "$REGISTRY/busybox:latest" >/dev/null 2>&1
gophernetes rm -f lab07-native >/dev/null 2>&1
exit 0
