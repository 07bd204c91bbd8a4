#!/usr/bin/env bash
# Lab 07: containerd — the same verbs through a daemon
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
REGISTRY=${REGISTRY:-127.0.0.1:5000}
ctr -n lab07 images pull --plain-http $REGISTRY/busybox:latest
ctr -n lab07 images ls -q

# --- step 2
REGISTRY=${REGISTRY:-127.0.0.1:5000}
ctr -n lab07 run -d $REGISTRY/busybox:latest lab07-ctr sleep 3600
sleep 1
ctr -n lab07 tasks ls

# --- step 3
TASK_PID=$(ctr -n lab07 tasks ls | awk '$1 == "lab07-ctr" {print $2}')
SHIM_PID=$(ps -o ppid= -p $TASK_PID)
ps -o pid,ppid,args -p $SHIM_PID | cut -c1-100
ctr -n lab07 tasks exec --exec-id probe lab07-ctr sh -c 'echo "exec by the shim; PID 1 in here is $(cat /proc/1/comm)" > /tmp/probe'
cat /proc/$TASK_PID/root/tmp/probe

# --- step 4
TASK_PID=$(ctr -n lab07 tasks ls | awk '$1 == "lab07-ctr" {print $2}')
ctr -n lab07 tasks pause lab07-ctr
ctr -n lab07 tasks ls
grep -E '^0::|freezer' /proc/$TASK_PID/cgroup

# --- step 5
REGISTRY=${REGISTRY:-127.0.0.1:5000}
gophernetes --engine containerd pull --insecure $REGISTRY/busybox:latest
gophernetes --engine containerd run -d --name lab07 --net none $REGISTRY/busybox:latest sleep 3600
gophernetes --engine containerd list
ctr -n gophernetes tasks ls
