#!/usr/bin/env bash
# Runs a command inside a peer root filesystem (see build.sh), sharing the host's
# network (loopback included), with /proc mounted and /dev bound. The mounts live in
# a private mount namespace, so they vanish with the command and concurrent runs do
# not interfere. The command keeps this script's process id (every step execs).
#
#   chroot.sh ROOTFS [-C DIR] COMMAND [ARG...]      DIR: working directory in the chroot
#
# Needs root (unshare, mount, chroot).
set -euo pipefail

(($# >= 2)) || { echo "usage: chroot.sh ROOTFS [-C DIR] COMMAND [ARG...]" >&2; exit 2; }
root=$(cd "$1" && pwd)
shift
dir=/
if [[ $1 == -C ]]; then
	dir=$2
	shift 2
fi
[[ -x $root/bin/sh ]] || { echo "chroot.sh: $root is not a root filesystem (no /bin/sh)" >&2; exit 2; }

if [[ ${GATHERER_CHROOT_INNER:-} != 1 ]]; then
	export GATHERER_CHROOT_INNER=1
	exec unshare --mount --propagation private -- "$0" "$root" -C "$dir" "$@"
fi
unset GATHERER_CHROOT_INNER
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
exec chroot "$root" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" PYTHONUNBUFFERED=1 \
	/bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@"
