#!/usr/bin/env bash
# Builds the peer root filesystems and Docker images used by the conformance suite.
#
#   build.sh [--rootfs-only] [--print-tag] FLAVOUR...     FLAVOUR: bookworm | trixie
#
# For each flavour it builds, with debootstrap, build/rootfs/FLAVOUR (kept: process
# mode runs Tahoe in a chroot of it, see chroot.sh) and imports it as the image
# gatherer-peer-FLAVOUR:HASH, also tagged :latest. HASH is a digest of the recipe
# (FLAVOUR.*, chroot.sh and the root filesystem steps below), so nothing is rebuilt while the recipe is unchanged:
# an existing image skips the root filesystem entirely, and --rootfs-only builds
# just the root filesystem (for process mode, where no Docker engine runs).
#
#   bookworm: python3-foolscap 21.7, flogtool, twistd3 (Debian bookworm)
#   trixie:   tahoe-lafs 1.20 + python3-foolscap 24.9 + curl (Debian trixie)
#
# Environment: ROOTFS_DIR (default <repo>/build/rootfs), DEBIAN_MIRROR (default:
# debootstrap's own default mirror). Needs root, debootstrap and, unless
# --rootfs-only, a Docker engine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
rootfs_dir=${ROOTFS_DIR:-$repo/build/rootfs}
rootfs_only=false
print_tag=false

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# packages FILE: the package names in FILE, comments and blank lines dropped.
packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1" | tr -s '[:space:]' ' '; }

# recipe_hash FLAVOUR: 12 hex digits over every input of the recipe: the
# flavour's package lists and the code that turns them into a root filesystem
# (so editing the rest of this script rebuilds nothing).
recipe_hash() {
	{
		declare -f packages build_rootfs
		cat "$here/chroot.sh" "$here/$1".*
	} | sha256sum | cut -c1-12
}

build_rootfs() {
	local flavour=$1 hash=$2
	local root=$rootfs_dir/$flavour stamp=$rootfs_dir/$flavour.recipe
	if [[ -f $stamp && $(cat "$stamp") == "$hash" && -x $root/usr/bin/python3 ]]; then
		log "$flavour: root filesystem $root is up to date (recipe $hash)"
		return
	fi
	command -v debootstrap >/dev/null || die "debootstrap is not installed (run: make deps)"
	[[ $(id -u) == 0 ]] || die "debootstrap needs root"
	log "$flavour: building root filesystem $root (recipe $hash); this takes a few minutes"
	rm -f "$stamp"
	rm -rf "$root.tmp"
	mkdir -p "$rootfs_dir"
	local include
	include=$(packages "$here/$flavour.packages" | tr ' ' ',' | sed 's/,$//')
	# shellcheck disable=SC2086 # DEBIAN_MIRROR is optional.
	debootstrap --variant=minbase --include="$include" "$flavour" "$root.tmp" ${DEBIAN_MIRROR:-} \
		>"$rootfs_dir/$flavour.debootstrap.log" 2>&1 ||
		die "$flavour: debootstrap failed; see $rootfs_dir/$flavour.debootstrap.log"
	if [[ -f $here/$flavour.post-packages ]]; then
		cp /etc/resolv.conf "$root.tmp/etc/resolv.conf"
		# shellcheck disable=SC2046 # one word per package.
		"$here/chroot.sh" "$root.tmp" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $(packages "$here/$flavour.post-packages") \
			>>"$rootfs_dir/$flavour.debootstrap.log" 2>&1 ||
			die "$flavour: apt-get install in the chroot failed; see $rootfs_dir/$flavour.debootstrap.log"
	fi
	"$here/chroot.sh" "$root.tmp" apt-get clean >/dev/null 2>&1 || true
	rm -rf "$root"
	mv "$root.tmp" "$root"
	echo "$hash" >"$stamp"
}

check_rootfs() {
	local flavour=$1 root=$rootfs_dir/$1
	case $flavour in
	bookworm) "$here/chroot.sh" "$root" python3 -c 'import foolscap; print("foolscap", foolscap.__version__)' ;;
	trixie) "$here/chroot.sh" "$root" tahoe --version | head -n 1 ;;
	esac
}

build_image() {
	local flavour=$1 hash=$2 name=gatherer-peer-$1
	if docker image inspect "$name:$hash" >/dev/null 2>&1; then
		log "$flavour: image $name:$hash exists"
	else
		log "$flavour: importing $rootfs_dir/$flavour as $name:$hash"
		tar -C "$rootfs_dir/$flavour" -c . |
			docker import --message "gatherer conformance peer, recipe $hash" - "$name:$hash" >/dev/null
	fi
	docker tag "$name:$hash" "$name:latest"
	# Drop images of older recipes.
	local old
	for old in $(docker images --format '{{.Tag}}' "$name" | grep -vx -e latest -e "$hash"); do
		log "$flavour: removing $name:$old (older recipe)"
		docker rmi "$name:$old" >/dev/null || true
	done
}

main() {
	local flavours=()
	while (($#)); do
		case $1 in
		--rootfs-only) rootfs_only=true ;;
		--print-tag) print_tag=true ;;
		bookworm | trixie) flavours+=("$1") ;;
		*) die "unknown argument '$1' (usage: build.sh [--rootfs-only] [--print-tag] bookworm|trixie...)" ;;
		esac
		shift
	done
	((${#flavours[@]})) || flavours=(bookworm trixie)
	# A go.mod makes the root filesystems a module of their own, so that the
	# repository's `go ... ./...` never walks into them (or their /proc).
	mkdir -p "$rootfs_dir"
	[[ -f $rootfs_dir/go.mod ]] || printf 'module gatherer.invalid/rootfs\n' >"$rootfs_dir/go.mod"
	local f h
	for f in "${flavours[@]}"; do
		h=$(recipe_hash "$f")
		if $print_tag; then
			echo "gatherer-peer-$f:$h"
			continue
		fi
		if ! $rootfs_only && docker image inspect "gatherer-peer-$f:$h" >/dev/null 2>&1; then
			# The image is current: no root filesystem is needed for it.
			build_image "$f" "$h"
			continue
		fi
		build_rootfs "$f" "$h"
		log "$f: $(check_rootfs "$f")"
		$rootfs_only || build_image "$f" "$h"
	done
}

main "$@"
