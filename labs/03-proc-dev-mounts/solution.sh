#!/usr/bin/env bash
# Lab 03: Mounts, /proc and /dev
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
mkdir -p /srv/lab03/shared /srv/lab03/private
mount --bind /srv/lab03/shared /srv/lab03/shared
mount --make-shared /srv/lab03/shared
mount --bind /srv/lab03/private /srv/lab03/private
mount --make-private /srv/lab03/private
findmnt -o TARGET,PROPAGATION /srv/lab03/shared
findmnt -o TARGET,PROPAGATION /srv/lab03/private

# --- step 2
LAB=03 unshare --mount --propagation unchanged sleep 86400 >/dev/null 2>&1 &
NS_PID=$!
sleep 1
mkdir -p /srv/lab03/shared/sub /srv/lab03/private/sub
mount -t tmpfs lab03-shared /srv/lab03/shared/sub
mount -t tmpfs lab03-private /srv/lab03/private/sub
findmnt --task $NS_PID -R -o TARGET,SOURCE /srv/lab03/shared
findmnt --task $NS_PID -R -o TARGET,SOURCE /srv/lab03/private

# --- step 3
gophernetes run -d --name lab03 --net none busybox sleep 3600
gophernetes run -d --name lab03-priv --net none --privileged busybox sleep 3600
gophernetes exec lab03 wc -l /proc/timer_list
gophernetes exec lab03-priv wc -l /proc/timer_list
gophernetes exec lab03 sh -c 'echo lab > /proc/sys/kernel/domainname' || echo "refused"

# --- step 4
mkdir -p /srv/lab03/dev
mount -t tmpfs -o mode=755,size=64k lab03-dev /srv/lab03/dev
mknod -m 666 /srv/lab03/dev/null c 1 3
mknod -m 666 /srv/lab03/dev/zero c 1 5
mknod -m 666 /srv/lab03/dev/urandom c 1 9
ln -s /proc/self/fd /srv/lab03/dev/fd
head -c 8 /srv/lab03/dev/urandom | od -An -tx1
ls -l /srv/lab03/dev
