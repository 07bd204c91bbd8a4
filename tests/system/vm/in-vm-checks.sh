#!/bin/bash
# Runs INSIDE the lab VM as root (run-e2e.sh: vagrant ssh -c 'sudo bash /vagrant/tests/system/vm/in-vm-checks.sh').
# What a student would try first, each check printed as PASS/FAIL/SKIP. SKIP only for
# runtime features the installed gophernetes does not offer yet (asked via --help);
# exits 1 if any check failed.
set -u
failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=1; }
skip() { echo "SKIP $*"; }
has() { gophernetes "$@" --help >/dev/null 2>&1; }

# --- the VM itself
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && pass "cgroup v2 is mounted at /sys/fs/cgroup" \
  || fail "cgroup v2 expected at /sys/fs/cgroup, found $(stat -fc %T /sys/fs/cgroup)"

# --- containerd
systemctl is-active --quiet containerd && pass "containerd is active" || fail "containerd is not active"
systemctl is-enabled --quiet containerd && pass "containerd is enabled" || fail "containerd is not enabled"
ctr version >/dev/null 2>&1 && pass "ctr talks to containerd" || fail "ctr version failed"

# --- registry
catalog=$(curl -sf http://127.0.0.1:5000/v2/_catalog || true)
case $catalog in *busybox*) pass "local registry serves busybox ($catalog)";; *) fail "registry catalog: '$catalog'";; esac

# --- gophernetes
gophernetes --help >/dev/null 2>&1 && pass "gophernetes --help" || fail "gophernetes --help failed"

if has images; then
  out=$(gophernetes images 2>&1); case $out in *busybox*) pass "gophernetes images shows busybox";; *) fail "gophernetes images: $out";; esac
else
  fail "gophernetes has no 'images' command"
fi

# memory limit on cgroup v2: a 16 MB buffer fits in 64 MB, a 256 MB one gets the
# container OOM-killed: exit status 137 (128 + SIGKILL)
if gophernetes run --help 2>/dev/null | grep -q -- --memory; then
  gophernetes run --memory 64m busybox dd if=/dev/zero of=/dev/null bs=16M count=1 >/tmp/e2e-under.log 2>&1
  rc=$?; [ $rc -eq 0 ] && pass "16 MB under a 64 MB limit: exit 0" || fail "16 MB under a 64 MB limit: exit $rc ($(tail -3 /tmp/e2e-under.log))"
  gophernetes run --memory 64m busybox dd if=/dev/zero of=/dev/null bs=256M count=1 >/tmp/e2e-over.log 2>&1
  rc=$?; [ $rc -eq 137 ] && pass "256 MB over a 64 MB limit: exit 137" || fail "256 MB over a 64 MB limit: exit $rc, want 137 ($(tail -3 /tmp/e2e-over.log))"
else
  fail "gophernetes run has no --memory option"
fi

# device rules on cgroup v2 (an eBPF program on the container's cgroup): root in the
# container may mknod the VM's disk (the root filesystem's device) but not read it
disk=$(findmnt -rno MAJ:MIN / 2>/dev/null); disk=${disk:-254:0}
out=$(gophernetes run --net none busybox sh -c \
  "mknod /tmp/disk b ${disk%:*} ${disk#*:} && head -c1 /tmp/disk; echo x > /dev/null && echo null-ok" 2>&1)
if [[ $out == *"Operation not permitted"* && $out == *null-ok* ]]; then
  pass "device filter: reading the disk (b $disk) from a container: Operation not permitted; /dev/null works"
else
  fail "device filter: b $disk from a container: $out"
fi

# the rest of the cgroup v2 driver, seen from the host: a pids limit stops a fork bomb, a CPU
# quota throttles, shares become a weight, pause freezes the cgroup, rm removes it
out=$(gophernetes run --net none --pids-limit 10 busybox sh -c 'for i in $(seq 30); do sleep 5 & done; wait' 2>&1); rc=$?
case $out in *"can't fork"*) pass "--pids-limit 10 stops the 10th fork (exit $rc)";; *) fail "--pids-limit 10: exit $rc: $out";; esac
gophernetes rm -f e2e-cpu >/dev/null 2>&1
if gophernetes run -d --name e2e-cpu --net none --cpus 0.2 --cpu-shares 512 busybox sh -c 'while :; do :; done' >/dev/null 2>&1; then
  dir=/sys/fs/cgroup/gophernetes/$(gophernetes inspect e2e-cpu | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  sleep 2
  max=$(cat "$dir/cpu.max"); throttled=$(awk '$1 == "nr_throttled" {print $2}' "$dir/cpu.stat")
  [ "$max" = "20000 100000" ] && [ "${throttled:-0}" -gt 0 ] && pass "--cpus 0.2: cpu.max '$max', throttled $throttled times" \
    || fail "--cpus 0.2: cpu.max '$max', nr_throttled '$throttled'"
  weight=$(cat "$dir/cpu.weight")
  [ "$weight" = 20 ] && pass "--cpu-shares 512: cpu.weight 20" || fail "--cpu-shares 512: cpu.weight $weight, want 20"
  gophernetes pause e2e-cpu >/dev/null && grep -qx 'frozen 1' "$dir/cgroup.events" && pass "pause: the cgroup is frozen" \
    || fail "pause: $(cat "$dir/cgroup.events" | tr '\n' ' ')"
  gophernetes resume e2e-cpu >/dev/null && grep -qx 'frozen 0' "$dir/cgroup.events" && pass "resume: the cgroup is thawed" \
    || fail "resume: $(cat "$dir/cgroup.events" | tr '\n' ' ')"
  gophernetes rm -f e2e-cpu >/dev/null
  [ ! -e "$dir" ] && pass "rm -f removes the container's cgroup" || fail "rm -f left $dir behind"
else
  fail "gophernetes run -d --cpus 0.2 failed"
fi

# bridge network: the container gets an address on the runtime's bridge
if gophernetes run --help 2>/dev/null | grep -q -- --net; then
  out=$(gophernetes run --net bridge busybox ip -4 addr 2>&1); rc=$?
  if [ $rc -eq 0 ] && echo "$out" | grep -v '127.0.0.1' | grep -q 'inet '; then
    pass "bridge network: container has $(echo "$out" | grep -v 127.0.0.1 | grep -o 'inet [0-9./]*' | head -1)"
  else
    fail "bridge network: exit $rc: $out"
  fi
  if has network ls; then gophernetes network ls >/dev/null 2>&1 && pass "gophernetes network ls" || fail "gophernetes network ls failed"; fi
else
  skip "gophernetes run has no --net option yet"
fi

# pull from the VM's own registry
if has pull; then
  out=$(gophernetes pull --insecure 127.0.0.1:5000/busybox:latest 2>&1); rc=$?
  [ $rc -eq 0 ] && pass "pull 127.0.0.1:5000/busybox:latest" || fail "pull: exit $rc: $out"
  out=$(gophernetes run 127.0.0.1:5000/busybox:latest echo pulled-and-ran 2>&1)
  case $out in *pulled-and-ran*) pass "run the pulled image";; *) fail "run the pulled image: $out";; esac
else
  skip "gophernetes has no 'pull' yet"
fi

# --- the student's side
[ -d /home/vagrant/labs ] && [ "$(stat -c %U /home/vagrant/labs)" = vagrant ] && pass "~vagrant/labs exists and is theirs" \
  || fail "~vagrant/labs missing or not owned by vagrant"
grep -q '~/labs' /etc/motd && pass "login banner points at ~/labs" || fail "/etc/motd lacks the pointer to ~/labs"
# `sudo -i` lands in root's home: its ~/labs leads to the student's labs
out=$(bash -lc 'cd ~root/labs/01-namespaces && test -f README.md && readlink ~root/labs' 2>&1)
[ "$out" = /home/vagrant/labs ] && pass "root's ~/labs leads to /home/vagrant/labs" || fail "root's ~/labs: $out"

exit $failed
