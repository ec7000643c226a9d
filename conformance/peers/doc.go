// Package peers starts the programs a conformance scenario needs (a gatherer,
// python-foolscap nodes, real Tahoe-LAFS nodes) and talks to them.
//
// Layer: conformance (top; may import anything, nothing imports it but the
// suite). It owns the peer processes and containers of one scenario and the
// Python peers next to it (pynode.py, pystats.py, pyprobe.py, peerctl.py,
// reference_gatherer.sh) and the image recipe in images/.
//
// A [Driver] has two implementations, chosen by the suite, never by a step:
// process mode (local processes on 127.0.0.1; python-foolscap 21.7 from the
// host's /usr/bin/python3, python-foolscap 24.9 and Tahoe-LAFS 1.20 in a chroot
// of the trixie root filesystem) and container mode (dockertest: one container
// per peer on a private Docker network, reached by host name).
//
// The gatherer under test is either python-foolscap's (flogtool create-* and
// twistd3 -n -y gatherer.tac) or ours (bin/gatherer create-* and
// bin/gatherer run DIR), created and run with the same arguments. The stats
// gatherer (KindStats: create-stats-gatherer, stats_gatherer.furl, run with
// --poll-interval and --metrics) exists only as ours; asking for python's is
// an error. Its nodes are pystats.py ([Driver.StartStatsProvider]), which
// plays a Tahoe-LAFS <= 1.15 node: provide(provider, nickname) on every
// connection, get_stats() answered in Tahoe's shape or, on request, badly.
//
// Both drivers also implement [Faults] for features/faults.feature: pause
// and resume a peer (docker pause/unpause; SIGSTOP/SIGCONT of its process
// group), kill it (docker kill; SIGKILL) and run it again from its directory
// (RunGatherer, Faults.RunNode: a node keeps its Tub key, so its tubid, and
// its incident directory), and, in container mode only, take it off the
// scenario's own Docker network and put it back at the address it had
// (process mode has no network: ErrNoNetwork). While a node is off the
// network the driver reaches its control port from inside its container
// (peerctl.py send).
//
// Readiness is always a real condition checked under the caller's deadline: a
// gatherer is ready when its FURL answers a Foolscap connection (pyprobe.py),
// a node or stats provider when it announces its location, a Tahoe node when its web page
// answers and its logport FURL exists. Behaviour follows
// shared/foolscap/gatherers.md and shared/tahoe-in-debian.md.
package peers
