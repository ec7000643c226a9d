"""A python-foolscap Tub for foolscap/tub's interop tests.

Usage:
  pytub.py serve HOSTHINT          listen on 127.0.0.1, print "FURL <furl>", serve Echo
                                   until stdin closes. HOSTHINT is the host put in
                                   the location ("127.0.0.1" or "localhost").
  pytub.py serve-and-call HOSTHINT as serve, then reads a FURL on stdin and
                                   calls whoami() on it at once, printing
                                   "OK whoami <answer>" or "FAIL whoami <why>".
  pytub.py call FURL               connect to FURL and exercise it; print one
                                   "OK <what>" or "FAIL <what> <why>" line per
                                   check, then "DONE".

Run it with Debian's /usr/bin/python3 (python3-foolscap 21.7).
"""
import sys

from twisted.internet import reactor, defer, stdio
from twisted.protocols import basic
from foolscap.api import Tub, Referenceable, RemoteInterface, DeadReferenceError
from foolscap.schema import Any
from zope.interface import implementer


class RIEcho(RemoteInterface):
    __remote_name__ = "RIEcho.gatherer.test"

    def echo(x=Any()):
        return Any()

    def fail(msg=Any()):
        return Any()

    def call_back(ref=Any(), arg=Any()):
        return Any()

    def whoami():
        return Any()


@implementer(RIEcho)
class Echo(Referenceable):
    def remote_echo(self, x):
        return x

    def remote_fail(self, msg):
        raise ValueError(msg)

    def remote_call_back(self, ref, arg):
        return ref.callRemote("cb", arg)

    def remote_whoami(self):
        return "python"


class Callback(Referenceable):
    def __init__(self):
        self.seen = []

    def remote_cb(self, arg):
        self.seen.append(arg)
        return ("py-got", arg)


class Quit(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self, tub=None):
        self.tub = tub

    def lineReceived(self, line):
        if self.tub is None:
            return
        furl = line.decode().strip()

        def whoami():
            d = self.tub.getReference(furl)
            d.addCallback(lambda ref: ref.callRemote("whoami"))
            return d

        def retry_once(f):
            # When both Tubs dial at once, the master may keep the second
            # connection and drop the first ("replaced by a new
            # connection"), killing a call made on it: python-foolscap's
            # own race, which its Reconnector absorbs by trying again.
            f.trap(DeadReferenceError)
            return whoami()

        d = whoami()
        d.addErrback(retry_once)
        d.addCallbacks(lambda r: print("OK whoami", r, flush=True),
                       lambda f: print("FAIL whoami", f.getErrorMessage(), flush=True))

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def serve(host, answer_calls=False):
    t = Tub()
    t.startService()
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    portnum = s.getsockname()[1]
    s.close()
    t.listenOn("tcp:%d:interface=127.0.0.1" % portnum)
    t.setLocation("tcp:%s:%d" % (host, portnum))
    furl = t.registerReference(Echo(), "echo-swiss")
    print("FURL", furl, flush=True)
    stdio.StandardIO(Quit(t if answer_calls else None))
    reactor.run()


VALUES = [
    b"bytes\x00\xff",
    "unicode \u00e9 \U0001f600",
    2**100, -(2**100), 2**31, -(2**31) - 1, 0, -1,
    -0.0, 1e-5, 1e16, 0.1 + 0.2,
    None, True, False,
    [1, [2, [3]]], (1, "two", b"three"), {1, 2}, frozenset([b"x"]),
    {1: "one", 2: b"two"}, {(3, 4): [5], (1, 2): {b"k": "v"}},
]


def nested(n):
    v = "core"
    for i in range(n):
        v = [i, v]
    return v


@defer.inlineCallbacks
def call(furl):
    t = Tub()
    t.startService()
    failures = 0
    try:
        ref = yield t.getReference(furl)
        print("OK connected", ref.getRemoteTubID(), flush=True)
        for i, v in enumerate(VALUES + [nested(20)]):
            got = yield ref.callRemote("echo", v)
            if got == v and type(got) == type(v):
                print("OK echo", i, flush=True)
            else:
                failures += 1
                print("FAIL echo", i, repr(v), "->", repr(got), flush=True)
        # A CopiedFailure cannot be thrown into an inlineCallbacks generator
        # on Python 3 (python-foolscap quirk), so look at it as a Failure.
        kind, res = yield ref.callRemote("fail", "boom from python").addCallbacks(
            lambda r: ("answer", r), lambda f: ("failure", f))
        if kind == "failure" and "boom from python" in str(res.value):
            print("OK error", res.type, flush=True)
        else:
            print("FAIL error", kind, repr(res), flush=True)
        cb = Callback()
        got = yield ref.callRemote("call_back", cb, "ping")
        print("OK callback" if tuple(got) == ("py-got", "ping") and cb.seen == ["ping"]
              else "FAIL callback %r %r" % (got, cb.seen), flush=True)
    except Exception as e:
        print("FAIL exception", repr(e), flush=True)
    print("DONE", flush=True)
    reactor.stop()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "serve-and-call":
        serve(sys.argv[2], answer_calls=True)
    elif sys.argv[1] == "call":
        reactor.callWhenRunning(call, sys.argv[2])
        reactor.run()
