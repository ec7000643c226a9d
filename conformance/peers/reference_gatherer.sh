#!/usr/bin/env bash
# Creates, runs and stops the Python reference gatherers (python-foolscap's
# flogtool + twistd), the way the operators' recipe does.
#
#   reference_gatherer.sh create incident|log DIR --port STRPORT --location HINTS [flogtool options]
#   reference_gatherer.sh run DIR      # foreground (twistd3 -n), logs to DIR/twistd.log
#   reference_gatherer.sh start DIR    # background, waits for the FURL and prints it
#   reference_gatherer.sh stop DIR     # SIGTERM to DIR/twistd.pid, waits for the exit
#   reference_gatherer.sh furl DIR     # prints DIR/log_gatherer.furl
#
# Extra flogtool options for "create log": --rotate SECONDS, --bzip.
# Uses Debian's flogtool/twistd3 (python3-foolscap 21.7), never a pyenv python3.
set -euo pipefail

die() { printf 'reference_gatherer.sh: %s\n' "$*" >&2; exit 1; }
twistd=${TWISTD:-twistd3}
flogtool=${FLOGTOOL:-flogtool}

cmd=${1:-}
(($# >= 2)) || die "usage: reference_gatherer.sh create|run|start|stop|furl ..."
shift
case $cmd in
create)
	kind=$1 dir=$2
	shift 2
	case $kind in
	incident) exec "$flogtool" create-incident-gatherer "$@" "$dir" ;;
	log) exec "$flogtool" create-gatherer "$@" "$dir" ;;
	*) die "unknown gatherer kind '$kind' (incident or log)" ;;
	esac
	;;
run)
	cd "$1"
	exec "$twistd" -n --logfile=twistd.log --pidfile=twistd.pid -y gatherer.tac
	;;
start)
	dir=$1
	[[ -f $dir/gatherer.tac ]] || die "$dir has no gatherer.tac (create it first)"
	(cd "$dir" && "$twistd" --logfile=twistd.log --pidfile=twistd.pid -y gatherer.tac >/dev/null)
	for _ in $(seq 100); do
		[[ -s $dir/log_gatherer.furl ]] && exec cat "$dir/log_gatherer.furl"
		sleep 0.1
	done
	die "the gatherer in $dir wrote no log_gatherer.furl within 10 s; see $dir/twistd.log"
	;;
stop)
	dir=$1
	[[ -f $dir/twistd.pid ]] || die "$dir/twistd.pid not found: is the gatherer running?"
	pid=$(cat "$dir/twistd.pid")
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.1
	done
	die "gatherer pid $pid did not exit within 10 s of SIGTERM"
	;;
furl) exec cat "$1/log_gatherer.furl" ;;
*) die "unknown command '$cmd'" ;;
esac
