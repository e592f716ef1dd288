#!/bin/sh
# PID 1 of the nested-KVM machine (no systemd: the machine lives for one job). Mounts the system
# file systems, loads KVM for AMD (its SVM is what QEMU emulates), mounts the host directories named
# on the kernel command line at their host paths, runs the job, records its exit code and powers off.
set -u
# The initramfs has moved /proc, /sys and /dev over already; mount whatever is not there yet.
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname nested-kvm
for m in kvm_amd tun 9pnet_virtio 9p; do modprobe "$m" || echo "nested-kvm: modprobe $m failed" >/dev/console; done

# vhive.shares=tag:/path,tag:/path (tags and paths were validated by the host side).
shares=$(sed -n 's/.*vhive\.shares=\([^ ]*\).*/\1/p' /proc/cmdline)
for share in $(echo "$shares" | tr ',' ' '); do
  tag=${share%%:*}
  dir=${share#*:}
  mkdir -p "$dir"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,cache=loose "$tag" "$dir" ||
    echo "nested-kvm: mounting $tag at $dir failed" >/dev/console
done

mkdir -p /job
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 job /job; then
  cd /job || exit 1
  env -i HOME=/root PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb sh /job/run.sh >/job/output.log 2>&1
  echo "$?" >/job/rc.tmp
  mv /job/rc.tmp /job/rc
  cd /
  umount /job
else
  echo "nested-kvm: no job share" >/dev/console
fi
sync
echo o >/proc/sysrq-trigger
sleep 60
