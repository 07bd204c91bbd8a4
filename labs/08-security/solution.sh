#!/usr/bin/env bash
# Lab 08: Container security — capabilities, seccomp, user namespaces
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
gophernetes run -d --name lab08-noraw --net none --cap-drop NET_RAW busybox sleep 3600
gophernetes exec lab08-noraw id
gophernetes exec lab08-noraw ping -c 1 127.0.0.1 || echo "ping failed: status $?"
grep -E '^Cap(Eff|Bnd)' /proc/$(gophernetes inspect lab08-noraw | jq .pid)/status

# --- step 2
gophernetes run --rm --net none busybox ip addr add 10.8.8.8/32 dev lo || echo "refused: status $?"
gophernetes run -d --name lab08-netadmin --net none --cap-add NET_ADMIN busybox sleep 3600
gophernetes exec lab08-netadmin ip addr add 10.8.8.8/32 dev lo
gophernetes exec lab08-netadmin ip addr show lo

# --- step 3
mkdir -p /srv/lab08
cat > /srv/lab08/no-mkdir.json <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
JSON
gophernetes run -d --name lab08-seccomp --net none --security-opt seccomp=/srv/lab08/no-mkdir.json busybox sleep 3600
gophernetes exec lab08-seccomp mkdir /tmp/new || echo "mkdir failed: status $?"
gophernetes exec lab08-seccomp touch /tmp/file && echo "touch works"
grep -E '^(Seccomp|NoNewPrivs):' /proc/$(gophernetes inspect lab08-seccomp | jq .pid)/status

# --- step 4
gophernetes run -d --name lab08-userns --net none --userns auto busybox sleep 3600
PID=$(gophernetes inspect lab08-userns | jq .pid)
gophernetes exec lab08-userns id
cat /proc/$PID/uid_map
grep '^Uid' /proc/$PID/status
ps -o user:12,pid,args -p $PID

# --- step 5
mkdir -p /srv/lab08
install -m 4755 -o root "$(readlink -f /usr/bin/python3)" /srv/lab08/suid-python
install -d -m 1777 /srv/lab08/out
setpriv --reuid=65534 --regid=65534 --clear-groups /srv/lab08/suid-python -c \
  'import os; print("euid", os.geteuid()); open("/srv/lab08/out/plain", "w")'
setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs /srv/lab08/suid-python -c \
  'import os; print("euid", os.geteuid()); open("/srv/lab08/out/no-new-privs", "w")'
stat -c '%n: owner %u' /srv/lab08/out/plain /srv/lab08/out/no-new-privs

# --- step 6
gophernetes run -d --name lab08-escape --net none busybox sleep 3600
gophernetes exec lab08-escape sh -c 'printf "#!/proc/self/exe\n" > /tmp/evil && chmod +x /tmp/evil'
gophernetes exec lab08-escape /tmp/evil || echo "CVE-2019-5736's way in refused: status $?"
gophernetes run --rm --net none busybox sh -c 'tty || echo "no terminal of yours to push keystrokes into"'
