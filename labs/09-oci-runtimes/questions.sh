#!/usr/bin/env bash
# Lab 09: OCI bundles and runtimes — config.json, runc, gophernetes, containerd, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
PID=$(runc state lab09-runc | jq .pid)
findmnt --task $PID /
findmnt --task $PID /etc

# --- question 2
cd /srv/lab09/bundle
runc create lab09-created
runc state lab09-created | jq -c '{status, pid}'
PID=$(runc state lab09-created | jq .pid)
ls -l /proc/$PID/ns
cat /proc/$PID/cgroup
findmnt --task $PID /etc
ps -o pid,ppid,args -p $PID
runc delete --force lab09-created

# --- question 3
TASK_PID=$(ctr -n lab09 tasks ls | awk '$1 == "lab09-ctr" {print $2}')
GN_PID=$(gophernetes-runtime state lab09-gn | jq .pid)
for PID in $TASK_PID $GN_PID; do
  ps -o pid,ppid,args -p $PID | tail -1
  ps -o pid,args -p $(ps -o ppid= -p $PID) | tail -1 | cut -c1-100
done

# --- question 4
kill -9 $(runc state lab09-runc | jq .pid)
sleep 1
runc state lab09-runc | jq -c '{id, status, pid}'
runc delete lab09-runc
cd /srv/lab09/bundle && runc run --detach lab09-runc

# --- question 5
jq -c '{caps: .process.capabilities.bounding, seccomp: (.linux.seccomp != null)}' /srv/lab09/bundle/config.json
grep -E '^(CapEff|Seccomp):' /proc/$(runc state lab09-runc | jq .pid)/status
CONFIG=$(gophernetes inspect lab09-native | jq -r .details.bundle)
jq -c '{caps: (.process.capabilities.bounding | length), seccomp: (.linux.seccomp != null)}' "$CONFIG"
grep -E '^(CapEff|Seccomp):' /proc/$(gophernetes inspect lab09-native | jq .pid)/status
