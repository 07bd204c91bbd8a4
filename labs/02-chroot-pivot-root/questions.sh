#!/usr/bin/env bash
# Lab 02: chroot, its escape, and pivot_root, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
unshare --mount --propagation private sh -c 'cd /srv/lab02/rootfs && pivot_root . .old' || echo "refused, as expected: $?"
unshare --mount --propagation private sh -c '
  mount --bind /srv/lab02/rootfs /srv/lab02/rootfs && cd /srv/lab02/rootfs && pivot_root . .old && echo "pivoted"'

# --- question 2
gophernetes exec lab02 mount -t proc proc /tmp || echo "refused, as expected: $?"
gophernetes exec lab02 grep -E '^Cap(Eff|Bnd)' /proc/self/status

# --- question 3
unshare --mount --propagation private sh -c '
  mount --bind /srv/lab02/rootfs /srv/lab02/rootfs && cd /srv/lab02/rootfs && pivot_root . .old
  exec /bin/sh -c "umount /.old || echo \"refused, as expected: \$?\"; umount -l /.old && ls -a /.old"'

# --- question 4
PIVOTED=$(pgrep -P "$(pgrep -o -f '^unshare --mount --pid --fork')")
nsenter -t $PIVOTED -m ls -a /.old
nsenter -t $PIVOTED -m -p -r -w sh -c 'chroot /proc/1/root ls /'
