#!/usr/bin/env bash
# Lab 04 back to its start: thaw, kill and remove the lab04 cgroups; remove the container.
set -u
. "$(dirname "$0")/../lib.sh"
gophernetes rm -f lab04 >/dev/null 2>&1
dirs=$(ls -d /sys/fs/cgroup/lab04 /sys/fs/cgroup/*/lab04 /sys/fs/cgroup/lab04-frozen /sys/fs/cgroup/*/lab04-frozen 2>/dev/null)   # lab04-frozen: Question 4
for dir in $dirs; do
  [ -e "$dir/cgroup.freeze" ] && echo 0 > "$dir/cgroup.freeze"
  [ -e "$dir/freezer.state" ] && echo THAWED > "$dir/freezer.state"
done
kill_lab_processes 04
for dir in $dirs; do
  for pid in $(cat "$dir/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
done
for dir in $dirs; do
  for try in 1 2 3 4 5 6 7 8 9 10; do
    rmdir "$dir" 2>/dev/null && break
    sleep 0.1
  done
done
exit 0
