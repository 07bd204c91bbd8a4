#!/usr/bin/env bash
# Lab 07: containerd — the same verbs through a daemon, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
if [ -d /run/systemd/system ] && [ -z "${CONTAINERD_ADDRESS:-}" ]; then
  TASK_PID=$(ctr -n lab07 tasks ls | awk '$1 == "lab07-ctr" {print $2}')
  systemctl stop containerd
  ps -o pid,ppid,stat,args -p $TASK_PID
  timeout 30 ctr -n lab07 tasks ls || echo "ctr cannot reach containerd: $?"
  systemctl start containerd
  ctr -n lab07 tasks ls
else
  echo "no systemd containerd service here: nothing stopped"
fi

# --- question 2
REGISTRY=${REGISTRY:-127.0.0.1:5000}
ctr -n lab07 images pull $REGISTRY/busybox:latest
gophernetes --engine containerd pull $REGISTRY/busybox:latest

# --- question 3
REGISTRY=${REGISTRY:-127.0.0.1:5000}
time gophernetes run --rm --net none busybox true
time gophernetes --engine containerd run --rm --net none $REGISTRY/busybox:latest true

# --- question 4
REGISTRY=${REGISTRY:-127.0.0.1:5000}
ctr -n lab07 run -d $REGISTRY/busybox:latest lab07-exit sh -c 'exit 3'
sleep 1
ctr -n lab07 tasks ls
ctr -n lab07 tasks delete lab07-exit || echo "exit status $?"
ctr -n lab07 containers rm lab07-exit
