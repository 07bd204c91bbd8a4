#!/usr/bin/env bash
# Lab 04: cgroups — memory, CPU, PIDs, freezer, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  cat /sys/fs/cgroup/lab04/memory.swap.max || echo "no memory.swap.max: this kernel accounts no swap"
else
  cat /sys/fs/cgroup/memory/lab04/memory.memsw.limit_in_bytes || echo "no memsw files: swap accounting is off (v1)"
fi
grep -E '^Swap(Total|Free)' /proc/meminfo

# --- question 2
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  echo +memory > /sys/fs/cgroup/lab04/cgroup.subtree_control || echo "refused, as expected: $?"
  cat /sys/fs/cgroup/cgroup.subtree_control
  wc -l < /sys/fs/cgroup/cgroup.procs
else
  echo "cgroup v1: no such rule (each hierarchy has its own tree)"
fi

# --- question 3
nproc
PID=$(gophernetes inspect lab04 | jq .pid)
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  DIR=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' /proc/$PID/cgroup)
  cat $DIR/cpu.max $DIR/cpu.weight
else
  DIR=$(awk -F: '$2 == "memory" {print $3}' /proc/$PID/cgroup)
  cat /sys/fs/cgroup/cpu$DIR/cpu.cfs_period_us /sys/fs/cgroup/cpu$DIR/cpu.cfs_quota_us /sys/fs/cgroup/cpu$DIR/cpu.shares
fi

# --- question 4
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then CGV=2 FRZ=/sys/fs/cgroup/lab04-frozen; else CGV=1 FRZ=/sys/fs/cgroup/freezer/lab04-frozen; fi
mkdir -p $FRZ
LAB=04 sleep 86400 >/dev/null 2>&1 &
VICTIM=$!
echo $VICTIM > $FRZ/cgroup.procs
if [ $CGV = 2 ]; then echo 1 > $FRZ/cgroup.freeze; else echo FROZEN > $FRZ/freezer.state; fi
sleep 0.5
kill -9 $VICTIM; sleep 0.5
grep '^State' /proc/$VICTIM/status || echo "gone"
if [ $CGV = 2 ]; then echo 0 > $FRZ/cgroup.freeze; else echo THAWED > $FRZ/freezer.state; fi
wait $VICTIM || echo "exit status $?"
rmdir $FRZ
