#!/usr/bin/env bash
# Lab 03: Mounts, /proc and /dev, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
LAB=03 unshare --mount sleep 86400 >/dev/null 2>&1 &
NS_PID=$!
sleep 1
mkdir -p /srv/lab03/shared/later
mount -t tmpfs lab03-later /srv/lab03/shared/later
findmnt --task $NS_PID -R -o TARGET,SOURCE,PROPAGATION /srv/lab03/shared
umount /srv/lab03/shared/later
kill $NS_PID

# --- question 3
gophernetes exec lab03 sh -c 'rm -f /tmp/disk; mknod /tmp/disk b 8 0 && ls -l /tmp/disk && head -c 512 /tmp/disk >/dev/null' \
  || echo "refused, as expected: $?"
grep -E 'devices|^0::' /proc/$(gophernetes inspect lab03 | jq .pid)/cgroup

# --- question 4
ls -d /proc/acpi /proc/asound /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list \
  /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware || echo "(not all of them: exit $?)"
gophernetes exec lab03 ls -l /proc/kcore /proc/keys /proc/timer_list || echo "(not all of them: exit $?)"
