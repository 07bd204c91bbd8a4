#!/usr/bin/env bash
# Lab 08: Container security — capabilities, seccomp, user namespaces, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
CAPS=$(gophernetes run --rm --net none busybox grep CapEff /proc/self/status | awk '{print $2}')
echo "CapEff $CAPS"
for bit in $(seq 0 40); do if (( (0x$CAPS >> bit) & 1 )); then printf '%s ' $bit; fi; done; echo

# --- question 2
gophernetes run --rm --net none busybox grep NoNewPrivs /proc/self/status

# --- question 3
mkdir -p /srv/lab08
cat > /srv/lab08/kill-mkdir.json <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}
JSON
gophernetes run --rm --net none --security-opt seccomp=/srv/lab08/kill-mkdir.json busybox \
  sh -c 'mkdir /tmp/new; echo "mkdir: status $?"' || echo "killed: status $?"

# --- question 4
gophernetes run --rm --net none --userns auto --cap-add NET_ADMIN busybox \
  sh -c 'ip addr add 10.8.8.8/32 dev lo && ip -o addr show; cat /proc/self/uid_map'

# --- question 5
if [ -e /run/netns/lab05 ]; then
  ip netns exec lab05 nft list chain ip gophernetes input
else
  echo "lab 05 is not set up: do its steps 1 to 5 first"
fi
