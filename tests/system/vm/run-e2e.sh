#!/bin/bash
# The real end-to-end test of the lab environment, one command (root, Debian 12 host):
#   1. build (once, cached) a Debian 12 vagrant-libvirt box from Debian packages
#   2. start libvirtd by hand (no systemd here)
#   3. `vagrant up` with THE project's Vagrantfile (ansible_local: site.yml inside the VM)
#      plus tests/system/vm/Vagrantfile.ci, the CI-only provider settings (QEMU without KVM)
#   4. inside the VM: tests/system/vm/in-vm-checks.sh (cgroup v2 memory limit -> exit 137,
#      containerd, images, bridge network, pull from the VM's registry, labs, banner)
#   5. `vagrant provision` again must report changed=0
#   6. inside the VM: labs/prove.sh proves every lab on cgroup v2 (as molecule/vm's verify)
#   7. `vagrant destroy -f`; everything (VM, volumes, pool, daemons we started) is
#      removed on success and on failure
# Every vagrant call runs under `timeout`: vagrant-libvirt can hang without a word.
# Output: step timings; exit status 0 only if every step and check passed.
set -euo pipefail
PROJECT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$PROJECT/tests/system/vm
export GOPHERNETES_CI_CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
CACHE=$GOPHERNETES_CI_CACHE
STATE=$CACHE/e2e
mkdir -p "$STATE"

export VAGRANT_HOME=$CACHE/vagrant.d
export VAGRANT_DOTFILE_PATH=$STATE/dot-vagrant     # keeps .vagrant/ out of the checkout
export VAGRANT_DEFAULT_PROVIDER=libvirt
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_CWD=$PROJECT
export LIBVIRT_DEFAULT_URI=qemu:///system
export GOPHERNETES_VAGRANT_OVERLAY=$HERE/Vagrantfile.ci
export GOPHERNETES_E2E_SSH_PORT=${GOPHERNETES_E2E_SSH_PORT:-2270}
# the Debian minbase image is the slow part of provisioning under emulation: off here
export GOPHERNETES_EXTRA_VARS=${GOPHERNETES_EXTRA_VARS:-'{"images_debian_enabled": false}'}
unset GOPHERNETES_BOX GOPHERNETES_PROVISIONER GOPHERNETES_SYNC

declare -a TIMES
T0=$(date +%s)
CHILD=
# Run a step in the background and wait for it: bash handles a signal (Ctrl-C, a CI
# timeout) at once while in `wait`, so the cleanup below runs and stops the step.
step() {
  local name=$1; shift; local s; s=$(date +%s)
  echo "=== [$(date +%T)] $name"
  local rc=0
  "$@" & CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  TIMES+=("$name: $(( $(date +%s) - s ))s (rc $rc)")
  return $rc
}
report() { echo; echo "==== timings"; printf '  %s\n' "${TIMES[@]}"; echo "  total: $(( $(date +%s) - T0 ))s"; }

cleanup() {
  local rc=$?
  set +e
  echo "=== [$(date +%T)] cleanup"
  if [ -n "$CHILD" ]; then kill "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; fi
  timeout 300 vagrant destroy -f >/dev/null 2>&1
  # whatever vagrant could not remove: our domains, then the pool's volumes and the
  # daemons we started
  "$HERE/stop-libvirt.sh"
  rm -rf "$VAGRANT_DOTFILE_PATH"
  report
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "build box (cached)" "$HERE/build-box.sh"
step "start libvirtd" "$HERE/start-libvirt.sh"

step "vagrant box add (when the box changed)" "$HERE/add-box.sh"

timeout 300 vagrant destroy -f >/dev/null 2>&1 || true
if ! step "vagrant up (provisions with ansible_local)" timeout 2400 vagrant up --provider=libvirt \
     > >(tee "$STATE/up.log") 2>&1; then
  echo "FAIL vagrant up (log: $STATE/up.log)"; exit 1
fi

checks_rc=0
step "checks inside the VM" timeout 600 vagrant ssh -c 'sudo bash /vagrant/tests/system/vm/in-vm-checks.sh' \
  > >(tee "$STATE/checks.log") 2>&1 || checks_rc=$?

# Written straight to the file, then shown: a `> >(tee ...)` may still be writing when the
# recap is read (seen on a loaded machine: the recap missing, the test failing).
provision_rc=0
step "vagrant provision (idempotence)" timeout 900 vagrant provision > "$STATE/provision.log" 2>&1 || provision_rc=$?
cat "$STATE/provision.log"
if [ "$provision_rc" != 0 ]; then
  echo "FAIL vagrant provision (log: $STATE/provision.log)"; exit 1
fi
recap=$(grep -E 'ok=[0-9]+ +changed=' "$STATE/provision.log" | tail -1)
echo "recap of the second provisioning: $recap"
if ! echo "$recap" | grep -qE 'changed=0 +unreachable=0 +failed=0'; then
  echo "FAIL second provisioning changed something:"; grep -E '^changed:|^ *changed:' "$STATE/provision.log" || true
  exit 1
fi
echo "PASS second provisioning reports changed=0"

# Every lab as the student has it (~/labs, cgroup v2, offline): fresh checks fail, the
# README's steps (each twice) make them pass, reset makes them fail again. After the second
# provisioning, in the same VM: one boot for both proofs (a second VM cost CI ~15 minutes).
proof_rc=0
step "prove every lab (labs/prove.sh)" timeout 3000 vagrant ssh -c 'sudo bash /home/vagrant/labs/prove.sh' \
  > "$STATE/labs.log" 2>&1 || proof_rc=$?
cat "$STATE/labs.log"
proved=$(grep -c '^PROVED lab ' "$STATE/labs.log" || true)
[ "$proof_rc" = 0 ] && echo "$proved labs proved on cgroup v2"

step "vagrant destroy" timeout 300 vagrant destroy -f
if [ "$proof_rc" -ne 0 ]; then
  echo "FAIL labs not proved in the VM (prove.sh exit $proof_rc):"; grep -E '^FAILED ' "$STATE/labs.log" || true
fi
if [ "$checks_rc" -ne 0 ]; then
  # stated again at the end: vagrant's progress lines can push them out of a CI log's tail
  echo "FAIL some checks inside the VM failed:"; grep -E '^(FAIL|SKIP) ' "$STATE/checks.log" || true
fi
[ "$checks_rc" -eq 0 ] && [ "$proof_rc" -eq 0 ] || exit 1
echo "E2E PASSED"
