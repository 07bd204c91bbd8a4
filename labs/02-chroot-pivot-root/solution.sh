#!/usr/bin/env bash
# Lab 02: chroot, its escape, and pivot_root
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
mkdir -p /srv/lab02/rootfs/bin
cp /bin/busybox /srv/lab02/rootfs/bin/busybox
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox /srv/lab02/rootfs/bin/$applet
done
mkdir -p /srv/lab02/rootfs/proc /srv/lab02/rootfs/dev /srv/lab02/rootfs/tmp /srv/lab02/rootfs/.old
ls /srv/lab02/rootfs

# --- step 2
chroot /srv/lab02/rootfs /bin/sh -c 'ls /; ls /etc || echo "no /etc in here"'
LAB=02 chroot /srv/lab02/rootfs /bin/sleep 86400 >/dev/null 2>&1 &
sleep 1
readlink /proc/$!/root

# --- step 3
LAB=02 chroot /srv/lab02/rootfs /bin/sh -c '
  mount -t proc proc /proc
  chroot /proc/$PPID/root /bin/sh -c "umount /srv/lab02/rootfs/proc; cp /etc/os-release /srv/lab02/escaped; exec sleep 86400"
  echo "the escaped shell has ended"' >/dev/null 2>&1 &
CHROOTED=$!
for try in 1 2 3 4 5 6 7 8 9 10; do [ -s /srv/lab02/escaped ] && break; sleep 0.5; done
ESCAPED=$(pgrep -P $CHROOTED)
readlink /proc/$CHROOTED/root /proc/$ESCAPED/root
head -1 /srv/lab02/escaped

# --- step 4
LAB=02 unshare --mount --pid --fork --propagation private sh -c '
  mount --bind /srv/lab02/rootfs /srv/lab02/rootfs
  cd /srv/lab02/rootfs
  pivot_root . .old
  exec /bin/sh -c "mount -t proc proc /proc && umount -l /.old && exec sleep 86400"
' >/dev/null 2>&1 &
sleep 1
PIVOTED=$(pgrep -P $!)
readlink /proc/$PIVOTED/root
cat /proc/$PIVOTED/mountinfo

# --- step 5
gophernetes run -d --name lab02 --net none --rootfs /srv/lab02/rootfs sleep 3600
gophernetes run -d --name lab02-chroot --net none --chroot --rootfs /srv/lab02/rootfs sleep 3600
readlink /proc/$(gophernetes inspect lab02 | jq .pid)/root
readlink /proc/$(gophernetes inspect lab02-chroot | jq .pid)/root
