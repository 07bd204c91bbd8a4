#!/bin/bash
# Start libvirt's daemons by hand (no systemd here) and make the storage pool the CI
# overlay uses. Idempotent: daemons already answering are left alone. Writes
# $RUN/started-by-us when it started them, so stop-libvirt.sh stops only those.
#
# libvirtd runs in a private mount namespace where /dev/kvm is a 0666 copy of the node:
# /dev/kvm is root-only here (no udev rules), so libvirt would find KVM as root but not
# as the qemu user and re-probe QEMU's capabilities forever (vagrant then hangs).
# On a CI runner with udev, `chgrp kvm /dev/kvm && chmod 660 /dev/kvm` does the same.
set -euo pipefail
CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
RUN=$CACHE/libvirt-run
POOL=gophernetes-ci
mkdir -p /run/libvirt "$RUN" "$CACHE/pool"
if ! [ -S /run/libvirt/virtlogd-sock ]; then
  virtlogd -d -p "$RUN/virtlogd.pid"
  echo virtlogd >> "$RUN/started-by-us"
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  rm -f "$RUN/kvm"
  if [ -e /dev/kvm ]; then mknod -m 0666 "$RUN/kvm" c 10 232; fi
  unshare -m --propagation private sh -c \
    "if [ -e '$RUN/kvm' ]; then mount --bind '$RUN/kvm' /dev/kvm; fi; exec libvirtd -d -p '$RUN/libvirtd.pid'"
  echo libvirtd >> "$RUN/started-by-us"
fi
for _ in $(seq 30); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 1; done
virsh -c qemu:///system version >/dev/null
# vagrant-libvirt only auto-creates a pool named "default"
if ! virsh -c qemu:///system pool-info "$POOL" >/dev/null 2>&1; then
  virsh -c qemu:///system pool-define-as "$POOL" dir --target "$CACHE/pool" >/dev/null
fi
state=$(virsh -c qemu:///system pool-info "$POOL")
case $state in *running*) ;; *) virsh -c qemu:///system pool-start "$POOL" >/dev/null;; esac
echo "libvirt ready (pool $POOL at $CACHE/pool)"
