#!/usr/bin/env bash
# Lab 01: Namespaces — UTS, PID and mount
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
mkdir -p /run/lab01
touch /run/lab01/uts
unshare --uts=/run/lab01/uts hostname lab01
nsenter --uts=/run/lab01/uts hostname
hostname

# --- step 2
LAB=01 unshare --pid --fork --mount-proc sleep infinity >/dev/null 2>&1 &
sleep 1
SLEEPER=$(pgrep -P $!)
grep NSpid /proc/$SLEEPER/status

# --- step 3
LAB=01 unshare --mount sh -c 'mount -t tmpfs lab01 /mnt && exec sleep infinity' >/dev/null 2>&1 &
sleep 1
findmnt --task $! /mnt
findmnt /mnt || echo "no mount on /mnt here"

# --- step 4
gophernetes run -d --name lab01 --net none --hostname lab01-box busybox sleep 3600
PID=$(gophernetes inspect lab01 | jq .pid)
nsenter --target $PID --uts hostname
ls -l /proc/$PID/ns/uts /proc/$PID/ns/pid /proc/$PID/ns/mnt /proc/$$/ns/uts
