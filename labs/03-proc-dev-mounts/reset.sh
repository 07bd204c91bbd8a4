#!/usr/bin/env bash
# Lab 03 back to its start: stop the LAB=03 namespace, remove the containers, unmount /srv/lab03.
set -u
for proc in /proc/[0-9]*; do
  if tr '\0' '\n' <"$proc/environ" 2>/dev/null | grep -qx 'LAB=03'; then
    kill -KILL "${proc#/proc/}" 2>/dev/null
  fi
done
gophernetes rm -f lab03 lab03-priv >/dev/null 2>&1
# innermost first: the tmpfs mounts, then the bind mounts
for target in $(findmnt -rn -o TARGET | grep '^/srv/lab03' | sort -r); do
  umount "$target" 2>/dev/null || umount -l "$target"
done
rm -rf /srv/lab03
exit 0
