"""A stats provider that plays a Tahoe-LAFS <= 1.15 node towards a stats gatherer.

Tahoe 1.16 removed the stats gatherer, so no installable Tahoe still speaks this
protocol; this peer does, with python-foolscap (shared/foolscap/gatherers.md
sections 1.2 and 8.3):

  * its Tub (persistent key in NODEDIR/node.pem, like Tahoe's main Tub) calls
    connectTo(stats_gatherer.furl) and, on every (re)connection,
    callRemoteOnly("provide", <provider>, <nickname as bytes>);
  * the provider is a Referenceable whose RemoteInterface is named
    RIStatsProvider.tahoe.allmydata.com and answers get_stats() with
    {b"counters": {...}, b"stats": {...}}, all keys bytes, as Tahoe did.

The answer schema here is Any() (Tahoe's was DictOf(bytes, DictOf(bytes,
ChoiceOf(float, int, None)))), so that --malformed can send what a broken node
would; the wire names are what a gatherer sees.

usage: /usr/bin/python3 pystats.py --nodedir DIR --gatherer FURL [options]

  --nickname NAME          default "pystats"
  --malformed MODE         answer get_stats() badly: not-a-dict | missing-keys |
                           string-values | error (raise) | hang (never answer)
  --disconnect-after N     drop the connection after answering N get_stats calls
  --str-keys               send the nickname and every key as str, as a Python 3
                           node would (default: bytes, as Tahoe <= 1.15 on Python 2)
  --port, --listen-interface, --location-host, --control, --allow-stdin-close
                           as in pynode.py

Commands: info (tubid, calls answered, connected), disconnect (drop the
gatherer connection; the reconnector brings it back), malformed MODE|off, quit.
Announcements: ready, connected, provided, get_stats, disconnected.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import foolscap  # noqa: E402
from foolscap.api import Any, RemoteInterface, Referenceable, Tub  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from zope.interface import implementer  # noqa: E402

import peerctl  # noqa: E402

MALFORMED_MODES = ("not-a-dict", "missing-keys", "string-values", "error", "hang")


class RIStatsProvider(RemoteInterface):
    __remote_name__ = "RIStatsProvider.tahoe.allmydata.com"

    def get_stats():
        return Any()


class RIStatsGatherer(RemoteInterface):
    __remote_name__ = "RIStatsGatherer.tahoe.allmydata.com"

    def provide(provider=RIStatsProvider, nickname=Any()):
        return None


def tahoe_stats(started, calls):
    """An answer shaped like Tahoe 1.15's StatsProvider.get_stats()."""
    return {
        b"counters": {
            b"storage_server.allocate": calls,
            b"uploader.files_uploaded": 3,
            b"uploader.bytes_uploaded": 2 ** 40,
            b"downloader.files_downloaded": 0,
        },
        b"stats": {
            b"node.uptime": time.time() - started,
            b"cpu_monitor.total": 0.25,
            b"cpu_monitor.1min_avg": None,
            b"load_monitor.avg_load": 0.0012,
            b"load_monitor.max_load": 0.02,
            b"storage_server.disk_avail": 83842835968,
            b"storage_server.accepting_immutable_shares": 1,
        },
    }


@implementer(RIStatsProvider)
class StatsProvider(Referenceable):
    def __init__(self, peer):
        self.peer = peer

    def remote_get_stats(self):
        return self.peer.get_stats()


class Peer:
    def __init__(self, opts):
        self.opts = opts
        self.started = time.time()
        self.calls = 0
        self.rref = None
        self.malformed = opts.malformed
        os.makedirs(opts.nodedir, exist_ok=True)
        self.tub = Tub(certFile=os.path.join(opts.nodedir, "node.pem"))
        self.tub.startService()
        self.listener = self.tub.listenOn(
            "tcp:%d:interface=%s" % (opts.port, opts.listen_interface))
        self.provider = StatsProvider(self)

    def start(self):
        port = self.listener._lp.getHost().port
        self.tub.setLocation("tcp:%s:%d" % (self.opts.location_host, port))
        self.tub.connectTo(self.opts.gatherer, self.connected)
        peerctl.emit(dict(self.info([]), event="ready"))

    def connected(self, rref):
        self.rref = rref
        peerctl.emit({"event": "connected", "gatherer": rref.getRemoteTubID()})
        rref.notifyOnDisconnect(self.disconnected, rref)
        nickname = self.opts.nickname
        if not self.opts.str_keys:
            nickname = nickname.encode("utf-8")
        rref.callRemoteOnly("provide", self.provider, nickname)
        peerctl.emit({"event": "provided", "nickname": self.opts.nickname})

    def disconnected(self, rref):
        if self.rref is rref:
            self.rref = None
        peerctl.emit({"event": "disconnected"})

    def get_stats(self):
        self.calls += 1
        peerctl.emit({"event": "get_stats", "calls": self.calls})
        if self.opts.disconnect_after and self.calls >= self.opts.disconnect_after:
            reactor.callLater(0.1, self.drop_connection)
        mode = self.malformed
        if mode == "not-a-dict":
            return [b"counters", 1]
        if mode == "missing-keys":
            return {b"counters": {}}
        if mode == "string-values":
            return {b"counters": {b"a": b"not a number"}, b"stats": {b"b": [1, 2]}}
        if mode == "error":
            raise ValueError("pystats: get_stats failed on purpose")
        if mode == "hang":
            return defer.Deferred()
        stats = tahoe_stats(self.started, self.calls)
        if self.opts.str_keys:
            stats = {k.decode(): {kk.decode(): v for kk, v in d.items()}
                     for k, d in stats.items()}
        return stats

    def drop_connection(self):
        # two answers may schedule a drop before the first one happens
        if self.rref is not None:
            self.rref.tracker.broker.transport.loseConnection()

    # commands

    def info(self, args):
        return {"tubid": self.tub.getTubID(), "calls": self.calls,
                "connected": self.rref is not None, "pid": os.getpid(),
                "foolscap": foolscap.__version__}

    def disconnect(self, args):
        if self.rref is None:
            raise RuntimeError("not connected to the gatherer")
        self.rref.tracker.broker.transport.loseConnection()
        return {}

    def set_malformed(self, args):
        if len(args) != 1 or args[0] not in MALFORMED_MODES + ("off",):
            raise ValueError("usage: malformed %s|off" % "|".join(MALFORMED_MODES))
        self.malformed = None if args[0] == "off" else args[0]
        return {}

    def quit(self, args):
        reactor.callLater(0.1, reactor.stop)
        return {}


def main(argv):
    p = argparse.ArgumentParser(description="Tahoe <= 1.15 stats provider for conformance tests")
    p.add_argument("--nodedir", required=True)
    p.add_argument("--gatherer", required=True)
    p.add_argument("--nickname", default="pystats")
    p.add_argument("--malformed", choices=MALFORMED_MODES)
    p.add_argument("--disconnect-after", type=int, default=0)
    p.add_argument("--str-keys", action="store_true")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--listen-interface", default="127.0.0.1")
    p.add_argument("--location-host", default="127.0.0.1")
    p.add_argument("--control")
    p.add_argument("--allow-stdin-close", action="store_true")
    opts = p.parse_args(argv)
    peer = Peer(opts)
    commands = {"info": peer.info, "disconnect": peer.disconnect,
                "malformed": peer.set_malformed, "quit": peer.quit}
    d = peerctl.serve(commands, opts.control, opts.allow_stdin_close)
    d.addCallback(lambda _: peer.start())
    d.addErrback(lambda f: (sys.stderr.write("pystats: %s\n" % f.getErrorMessage()),
                            reactor.stop()))
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
