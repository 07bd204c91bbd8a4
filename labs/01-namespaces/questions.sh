#!/usr/bin/env bash
# Lab 01: Namespaces — UTS, PID and mount, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
unshare --pid bash -c 'sleep 1 & sleep 5; echo "status $?"; ls /; echo "ls: status $?"' || echo "exit status $?"

# --- question 2
LAB=01 unshare --pid --fork sleep infinity >/dev/null 2>&1 &
sleep 1
SLEEPER=$(pgrep -P $!)
kill $SLEEPER; sleep 1
grep -E '^(State|NSpid)' /proc/$SLEEPER/status
kill -9 $SLEEPER
wait $! || echo "unshare exit status $?"

# --- question 3
PID=$(gophernetes inspect lab01 | jq .pid)
ls -l /proc/$PID/ns
ls -l /proc/$$/ns
gophernetes inspect lab01 | jq -c .details.spec.namespaces

# --- question 4
findmnt -o TARGET,SOURCE,FSTYPE /run/lab01/uts
nsenter --uts=/run/lab01/uts hostname
