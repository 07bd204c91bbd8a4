#!/usr/bin/env bash
# Lab 04: cgroups — memory, CPU, PIDs, freezer
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then CGV=2; else CGV=1; fi
if [ $CGV = 2 ]; then MEM=/sys/fs/cgroup/lab04; else MEM=/sys/fs/cgroup/memory/lab04; fi
echo "cgroup v$CGV"
if [ $CGV = 2 ]; then
  echo "+memory +cpu +pids" > /sys/fs/cgroup/cgroup.subtree_control   # let children use them
  mkdir -p $MEM
  echo 32M > $MEM/memory.max
  if [ -e $MEM/memory.swap.max ]; then echo 0 > $MEM/memory.swap.max; fi
  cat $MEM/memory.max
else
  mkdir -p $MEM
  echo 32M > $MEM/memory.limit_in_bytes
  cat $MEM/memory.limit_in_bytes
fi

# --- step 2
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then CGV=2 MEM=/sys/fs/cgroup/lab04; else CGV=1 MEM=/sys/fs/cgroup/memory/lab04; fi
sh -c "echo \$\$ > $MEM/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=64M count=1" || echo "exit status $?"
if [ $CGV = 2 ]; then grep '^oom_kill ' $MEM/memory.events; else grep '^oom_kill ' $MEM/memory.oom_control; fi

# --- step 3
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then CGV=2 CPU=/sys/fs/cgroup/lab04; else CGV=1 CPU=/sys/fs/cgroup/cpu/lab04; fi
mkdir -p $CPU
if [ $CGV = 2 ]; then
  echo "20000 100000" > $CPU/cpu.max
else
  echo 100000 > $CPU/cpu.cfs_period_us
  echo 20000 > $CPU/cpu.cfs_quota_us
fi
timeout 2 sh -c "echo \$\$ > $CPU/cgroup.procs && while :; do :; done" || true
grep -E 'nr_periods|nr_throttled' $CPU/cpu.stat

# --- step 4
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then PIDS=/sys/fs/cgroup/lab04; else PIDS=/sys/fs/cgroup/pids/lab04; fi
mkdir -p $PIDS
echo 5 > $PIDS/pids.max
sh -c "echo \$\$ > $PIDS/cgroup.procs && for i in 1 2 3 4 5 6; do sleep 1 & done; wait" || echo "exit status $?"
grep max $PIDS/pids.events

# --- step 5
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then CGV=2 FRZ=/sys/fs/cgroup/lab04; else CGV=1 FRZ=/sys/fs/cgroup/freezer/lab04; fi
mkdir -p $FRZ
LAB=04 sleep 86400 >/dev/null 2>&1 &
echo $! > $FRZ/cgroup.procs
if [ $CGV = 2 ]; then
  echo 1 > $FRZ/cgroup.freeze
  sleep 0.5; grep frozen $FRZ/cgroup.events
else
  echo FROZEN > $FRZ/freezer.state
  sleep 0.5; cat $FRZ/freezer.state
fi

# --- step 6
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then CGV=2; else CGV=1; fi
gophernetes run -d --name lab04 --net none --memory 64m --cpus 0.5 --pids-limit 20 busybox sleep 3600
PID=$(gophernetes inspect lab04 | jq .pid)
cat /proc/$PID/cgroup
if [ $CGV = 2 ]; then
  DIR=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' /proc/$PID/cgroup)
  cat $DIR/memory.max $DIR/cpu.max $DIR/pids.max
else
  DIR=$(awk -F: '$2 == "memory" {print $3}' /proc/$PID/cgroup)
  cat /sys/fs/cgroup/memory$DIR/memory.limit_in_bytes /sys/fs/cgroup/cpu$DIR/cpu.cfs_quota_us /sys/fs/cgroup/pids$DIR/pids.max
fi
