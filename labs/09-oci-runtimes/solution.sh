#!/usr/bin/env bash
# Lab 09: OCI bundles and runtimes — config.json, runc, gophernetes, containerd
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
mkdir -p /srv/lab09/runc-spec /srv/lab09/gophernetes-spec
rm -f /srv/lab09/runc-spec/config.json /srv/lab09/gophernetes-spec/config.json
runc spec --bundle /srv/lab09/runc-spec
gophernetes-runtime spec --bundle /srv/lab09/gophernetes-spec
jq -c '{ociVersion, args: .process.args, root, hostname, namespaces: [.linux.namespaces[].type]}' /srv/lab09/runc-spec/config.json
diff <(jq -S . /srv/lab09/runc-spec/config.json) <(jq -S . /srv/lab09/gophernetes-spec/config.json) || echo "(only these lines differ)"

# --- step 2
mkdir -p /srv/lab09/image /srv/lab09/bundle
gophernetes save --format oci-archive -o /srv/lab09/busybox.tar busybox
tar -xf /srv/lab09/busybox.tar -C /srv/lab09/image
jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' /srv/lab09/image/index.json
umoci raw unpack --image /srv/lab09/image:busybox:latest /srv/lab09/bundle/rootfs
ls -m /srv/lab09/bundle/rootfs

# --- step 3
jq '.hostname = "lab09"
    | .process.terminal = false
    | .process.args = ["sleep", "3600"]
    | .root.readonly = false
    | .linux.readonlyPaths += ["/etc"]
    | .linux.resources.memory = {"limit": 67108864}' \
  /srv/lab09/runc-spec/config.json > /srv/lab09/bundle/config.json
jq -c '{hostname, args: .process.args, root, memory: .linux.resources.memory, readonly: .linux.readonlyPaths[-1]}' /srv/lab09/bundle/config.json
ls -m /srv/lab09/bundle

# --- step 4
cd /srv/lab09/bundle
runc run --detach lab09-runc
runc state lab09-runc | jq -c '{id, status, pid, bundle}'
runc exec lab09-runc hostname
runc exec lab09-runc touch /tmp/ok && echo "/tmp is writable"
runc exec lab09-runc touch /etc/new || echo "/etc is read-only"
PID=$(runc state lab09-runc | jq .pid)
find /sys/fs/cgroup -path "*/lab09-runc/memory.max" -o -path "*/lab09-runc/memory.limit_in_bytes" | xargs grep -H .
ls /run/runc/lab09-runc

# --- step 5
gophernetes-runtime create --bundle /srv/lab09/bundle lab09-gn
gophernetes-runtime state lab09-gn | jq -r .status
PID=$(gophernetes-runtime state lab09-gn | jq .pid)
ps -o pid,ppid,wchan:20,args -p $PID
ls -l /proc/$PID/fd | grep exec.fifo
gophernetes-runtime start lab09-gn
gophernetes-runtime state lab09-gn | jq -r .status
ps -o pid,ppid,args -p $PID
nsenter --target $PID --uts hostname

# --- step 6
ctr -n lab09 run --detach --runc-binary "$(command -v gophernetes-runtime)" \
  --rootfs /srv/lab09/bundle/rootfs lab09-ctr sleep 3600
ctr -n lab09 tasks ls
TASK_PID=$(ctr -n lab09 tasks ls | awk '$1 == "lab09-ctr" {print $2}')
ps -ef --forest | grep -A1 "[s]him-runc-v2 -namespace lab09" | cut -c1-120
ls /run/containerd/runc/lab09/lab09-ctr
gophernetes-runtime --root /run/containerd/runc/lab09 state lab09-ctr | jq -c '{id, status, pid}'
echo "ctr's task pid: $TASK_PID"

# --- step 7
gophernetes run -d --name lab09-native --net none busybox sleep 3600
CONFIG=$(gophernetes inspect lab09-native | jq -r .details.bundle)
echo "$CONFIG"
jq -c '{args: .process.args, root, cgroupsPath: .linux.cgroupsPath, namespaces: [.linux.namespaces[].type]}' "$CONFIG"
jq -c '{caps: (.process.capabilities.bounding | length), seccomp: (.linux.seccomp != null), mounts: [.mounts[].destination]}' "$CONFIG"
ls "$(dirname "$CONFIG")"
