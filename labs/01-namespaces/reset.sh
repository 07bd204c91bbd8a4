#!/usr/bin/env bash
# Lab 01 back to its start: stop the LAB=01 processes, remove the container, drop the UTS namespace.
set -u
for proc in /proc/[0-9]*; do
  if tr '\0' '\n' <"$proc/environ" 2>/dev/null | grep -qx 'LAB=01'; then
    kill -KILL "${proc#/proc/}" 2>/dev/null   # KILL: PID 1 of a namespace ignores TERM
  fi
done
gophernetes rm -f lab01 >/dev/null 2>&1
umount /run/lab01/uts 2>/dev/null
rm -rf /run/lab01
exit 0
