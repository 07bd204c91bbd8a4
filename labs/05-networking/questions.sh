#!/usr/bin/env bash
# Lab 05: Networking — veth, a bridge, NAT, and containers that talk, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
ip -n lab05 link set veth-c1 nomaster
ip -n lab05 route
ip netns exec lab05 busybox ping -c 1 -W 2 10.55.0.2 || echo "no answer, as expected: $?"
ip -n lab05 link set veth-c1 master br-lab05
ip -n lab05 route
ip netns exec lab05 busybox ping -c 1 -W 2 10.55.0.2

# --- question 2
if command -v tcpdump >/dev/null; then
  ip netns exec lab05-world timeout 20 tcpdump -ni eth0 -c 2 icmp &
  sleep 2
  ip netns exec lab05-c1 busybox ping -c 3 203.0.113.2   # three: tcpdump may still be starting
  wait $!
else
  echo "no tcpdump on this host"
fi

# --- question 3
ip netns exec lab05 nft list table ip gophernetes | grep -E 'chain|hook|jump'
ip netns exec lab05-world curl -s -m 5 http://203.0.113.1:8080/
ip netns exec lab05 curl -s -m 5 http://203.0.113.1:8080/

# --- question 4
ip netns exec lab05 nft list chain ip gophernetes forward
