"""Check that a FURL answers: a real Foolscap connection, not a port probe.

usage: /usr/bin/python3 pyprobe.py [--timeout SECONDS] FURL

Connects with an ephemeral python-foolscap Tub and resolves the FURL
(getReference). Exits 0 and prints the remote tubid on success,
exits 1 with the error otherwise. The conformance suite's readiness checks run
this in a retry loop bounded by the test's deadline.
"""

import argparse
import sys

from foolscap.api import Tub
from twisted.internet import reactor


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("furl")
    opts = p.parse_args(argv)
    result = {"rc": 1}
    tub = Tub()
    tub.startService()

    def ok(rref):
        print("connected to", rref.getRemoteTubID())
        result["rc"] = 0

    def bad(f):
        sys.stderr.write("pyprobe: %s\n" % f.getErrorMessage())

    def done(_):
        if t.active():
            t.cancel()
        reactor.stop()

    def timeout():
        sys.stderr.write("pyprobe: no answer within %.1f s\n" % opts.timeout)
        reactor.stop()

    t = reactor.callLater(opts.timeout, timeout)
    d = tub.getReference(opts.furl)
    d.addCallback(ok)
    d.addErrback(bad)
    d.addBoth(done)
    reactor.run()
    return result["rc"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
