"""A minimal Tahoe-style stats gatherer, for testing pystats.py only.

Registers an RIStatsGatherer.tahoe.allmydata.com object, prints its FURL, and
for every provide(provider, nickname) calls get_stats() once and prints one
JSON line: {"nickname", "tubid", "interface", "stats"} (bytes decoded), or
{"error"}. Exits when stdin closes.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from foolscap.api import Referenceable, Tub  # noqa: E402
from twisted.internet import reactor, stdio  # noqa: E402
from twisted.internet.protocol import Protocol  # noqa: E402
from zope.interface import implementer  # noqa: E402

import pystats  # noqa: E402


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, dict):
        return {text(k): text(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [text(x) for x in v]
    return v


@implementer(pystats.RIStatsGatherer)
class Gatherer(Referenceable):
    def remote_provide(self, provider, nickname):
        d = provider.callRemote("get_stats")

        def ok(stats):
            print(json.dumps({"nickname": text(nickname), "tubid": provider.getRemoteTubID(),
                              "stats": text(stats)}), flush=True)

        def bad(f):
            print(json.dumps({"error": f.getErrorMessage()}), flush=True)

        d.addCallbacks(ok, bad)


class Quit(Protocol):
    def connectionLost(self, reason):
        reactor.stop()


tub = Tub()
tub.startService()
port = tub.listenOn("tcp:0:interface=127.0.0.1")
tub.setLocation("tcp:127.0.0.1:%d" % port._lp.getHost().port)
print(tub.registerReference(Gatherer(), "stats"), flush=True)
stdio.StandardIO(Quit())
reactor.run()
