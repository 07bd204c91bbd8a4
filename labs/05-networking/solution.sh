#!/usr/bin/env bash
# Lab 05: Networking — veth, a bridge, NAT, and containers that talk
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
ip netns add lab05
ip netns add lab05-c1
ip -n lab05 link set lo up
ip -n lab05-c1 link set lo up
ip -n lab05 link add veth-c1 type veth peer name eth0 netns lab05-c1
ip -n lab05-c1 addr add 10.55.0.2/24 dev eth0
ip -n lab05-c1 link set eth0 up
ip -n lab05 link set veth-c1 up
ip -n lab05-c1 -br addr

# --- step 2
ip -n lab05 link add br-lab05 type bridge
ip -n lab05 addr add 10.55.0.1/24 dev br-lab05
ip -n lab05 link set br-lab05 up
ip -n lab05 link set veth-c1 master br-lab05
ip netns add lab05-c2
ip -n lab05-c2 link set lo up
ip -n lab05 link add veth-c2 type veth peer name eth0 netns lab05-c2
ip -n lab05 link set veth-c2 master br-lab05 up
ip -n lab05-c2 addr add 10.55.0.3/24 dev eth0
ip -n lab05-c2 link set eth0 up
ip netns exec lab05-c1 busybox ping -c 1 -W 2 10.55.0.3
ip -n lab05 -br link show master br-lab05

# --- step 3
ip netns add lab05-world
ip -n lab05-world link set lo up
ip -n lab05 link add uplink type veth peer name eth0 netns lab05-world
ip -n lab05 addr add 203.0.113.1/24 dev uplink
ip -n lab05 link set uplink up
ip -n lab05-world addr add 203.0.113.2/24 dev eth0
ip -n lab05-world link set eth0 up
ip -n lab05-c1 route add default via 10.55.0.1
ip -n lab05-c2 route add default via 10.55.0.1
ip netns exec lab05 sysctl -w net.ipv4.ip_forward=1
ip netns exec lab05 iptables -t nat -A POSTROUTING -s 10.55.0.0/24 -o uplink -j MASQUERADE
ip netns exec lab05-c1 busybox ping -c 1 -W 2 203.0.113.2

# --- step 4
g5() { nsenter --net=/run/netns/lab05 gophernetes "$@"; }
g5 network create lab05net --subnet 10.56.0.0/24
g5 run -d --name lab05-web --hostname lab05-web --net lab05net busybox \
  sh -c 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'
g5 run -d --name lab05-client --net lab05net busybox sleep 3600
sleep 1
g5 exec lab05-client wget -qO- http://lab05-web/
g5 exec lab05-client cat /etc/hosts

# --- step 5
g5() { nsenter --net=/run/netns/lab05 gophernetes "$@"; }
g5 run -d --name lab05-public --hostname lab05-public --net lab05net -p 8080:80 busybox \
  sh -c 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'
sleep 1
ip netns exec lab05-world curl -s http://203.0.113.1:8080/
ip netns exec lab05 nft list chain ip gophernetes published
