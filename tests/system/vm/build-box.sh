#!/bin/bash
# Build a Debian 12 base box for vagrant-libvirt from Debian packages only, once:
#   debootstrap -> vagrant user/ssh/qemu-guest-agent -> grub-bootable qcow2 -> .box
# The box is cached as $CACHE/box/debian12-libvirt.box with the checksum of this script
# next to it: edit the script and the next run rebuilds. Prints the box path.
# Root on a Debian 12 host; needs debootstrap, qemu-utils, fdisk, grub in the chroot.
set -euo pipefail
CACHE=${GOPHERNETES_CI_CACHE:-/var/tmp/gophernetes-ci}
WORK=$CACHE/box
BOX=$WORK/debian12-libvirt.box
STAMP=$WORK/debian12-libvirt.box.sha256
want=$(sha256sum "$0" | cut -d' ' -f1)
if [ -s "$BOX" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then echo "$BOX"; exit 0; fi

mkdir -p "$WORK"; cd "$WORK"
ROOT=$WORK/rootfs; MNT=$WORK/mnt; RAW=$WORK/disk.raw
# the Debian mirror this host uses (the only place the VM may reach), and its address:
# the guest gets no DNS server, only a hosts entry for the mirror
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR_HOST=$(echo "$MIRROR" | sed -E 's#^[a-z]+://([^/]+).*#\1#')
MIRROR_IP=${MIRROR_IP:-$(getent ahostsv4 "$MIRROR_HOST" | awk '{print $1; exit}')}
VAGRANT_PUB=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub | tail -1)
LOOP=
cleanup() {
  set +e
  for m in dev/pts dev proc sys; do umount "$MNT/$m" 2>/dev/null; done
  umount "$MNT" 2>/dev/null; umount "$ROOT/proc" 2>/dev/null
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  rm -f "$RAW"
}
trap cleanup EXIT

echo "build-box: debootstrap" >&2
rm -rf "$ROOT"
debootstrap --variant=minbase \
  --include=systemd-sysv,linux-image-amd64,grub-pc,openssh-server,sudo,python3,python3-apt,iproute2,ca-certificates,less,procps,udev,kmod,e2fsprogs,initramfs-tools,zstd,rsync,qemu-guest-agent,dbus,libpam-systemd \
  bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }

echo "build-box: configure" >&2
echo debian12 > "$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 debian12\n# CI sandbox: the guest may only reach the Debian mirror (no DNS)\n%s %s\n' \
  "$MIRROR_IP" "$MIRROR_HOST" > "$ROOT/etc/hosts"
: > "$ROOT/etc/resolv.conf"
echo 'LABEL=rootfs / ext4 errors=remount-ro 0 1' > "$ROOT/etc/fstab"
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
  "$MIRROR" "$MIRROR" "$MIRROR" > "$ROOT/etc/apt/sources.list"
# the mirror here may serve a frozen snapshot whose Release files look expired
printf 'Acquire::Check-Valid-Until "false";\nAcquire::Languages "none";\nAPT::Install-Recommends "false";\n' \
  > "$ROOT/etc/apt/apt.conf.d/99gophernetes-ci"
mkdir -p "$ROOT/etc/systemd/network"
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n' > "$ROOT/etc/systemd/network/10-dhcp.network"
chroot "$ROOT" systemctl enable systemd-networkd ssh qemu-guest-agent serial-getty@ttyS0 >/dev/null 2>&1 || true
chroot "$ROOT" useradd -m -s /bin/bash -G sudo vagrant
echo 'vagrant:vagrant' | chroot "$ROOT" chpasswd
install -d -m 700 -o 1000 -g 1000 "$ROOT/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$VAGRANT_PUB" "$ROOT/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$ROOT/etc/sudoers.d/vagrant"; chmod 440 "$ROOT/etc/sudoers.d/vagrant"
printf 'UseDNS no\n' > "$ROOT/etc/ssh/sshd_config.d/vagrant.conf"
sed -i 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/; s/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 net.ifnames=0"/' "$ROOT/etc/default/grub"
echo 'GRUB_TERMINAL="console serial"' >> "$ROOT/etc/default/grub"
: > "$ROOT/etc/machine-id"; rm -f "$ROOT/var/lib/dbus/machine-id"
# CI speed only (software emulation makes package installs slow): dpkg skips fsync,
# Python packages are not byte-compiled at install time (Python compiles on import), and
# the initramfs is not rebuilt when a package asks (busybox-static does; minutes in TCG)
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$ROOT/etc/initramfs-tools/update-initramfs.conf"
grep -q '^update_initramfs=no' "$ROOT/etc/initramfs-tools/update-initramfs.conf"
echo force-unsafe-io > "$ROOT/etc/dpkg/dpkg.cfg.d/90gophernetes-ci-unsafe-io"
chroot "$ROOT" dpkg-divert --quiet --local --rename --add /usr/bin/py3compile
printf '#!/bin/sh\n# CI box: byte-compiling is left to Python itself (see build-box.sh)\nexit 0\n' > "$ROOT/usr/bin/py3compile"
chmod 755 "$ROOT/usr/bin/py3compile"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb

echo "build-box: disk" >&2
rm -f "$RAW"; truncate -s 10G "$RAW"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$RAW"
LOOP=$(losetup -f --show -P "$RAW")
udevadm settle 2>/dev/null || true; [ -b "${LOOP}p1" ] || partx -a "$LOOP" 2>/dev/null || true
for _ in $(seq 20); do [ -b "${LOOP}p1" ] && break; sleep 0.2; done
mkfs.ext4 -q -L rootfs "${LOOP}p1"
mkdir -p "$MNT"; mount "${LOOP}p1" "$MNT"
cp -a "$ROOT/." "$MNT/"
for m in dev dev/pts proc sys; do mount --bind "/$m" "$MNT/$m"; done
chroot "$MNT" grub-install --target=i386-pc --modules="part_msdos ext2" "$LOOP" >/dev/null 2>&1
chroot "$MNT" update-grub >/dev/null 2>&1
sed -i "s#root=${LOOP}p1#root=LABEL=rootfs#g" "$MNT/boot/grub/grub.cfg"
grep -q 'root=LABEL=rootfs' "$MNT/boot/grub/grub.cfg"
for m in dev/pts dev proc sys; do umount "$MNT/$m"; done
umount "$MNT"; losetup -d "$LOOP"; LOOP=
qemu-img convert -O qcow2 "$RAW" "$WORK/box.img"; rm -f "$RAW"

echo "build-box: package" >&2
rm -rf "$WORK/boxdir"; mkdir "$WORK/boxdir"; mv "$WORK/box.img" "$WORK/boxdir/box.img"
echo '{"provider": "libvirt", "format": "qcow2", "virtual_size": 10}' > "$WORK/boxdir/metadata.json"
printf 'Vagrant.configure("2") do |config|\nend\n' > "$WORK/boxdir/Vagrantfile"
tar -C "$WORK/boxdir" -cSf "$BOX.tmp" metadata.json Vagrantfile box.img
mv "$BOX.tmp" "$BOX"; echo "$want" > "$STAMP"
rm -rf "$WORK/boxdir" "$ROOT"
echo "$BOX"
