"""A python-foolscap peer for the Go pb interop tests.

It runs a real foolscap.broker.Broker on a plain TCP connection, the way
negotiate.py's switchToBanana does after negotiation, but without TLS or
negotiation: the Go test listens, this script connects and both sides
start speaking Banana with initial vocab table 1.

Usage: pypeer.py PORT GO_TUBID MODE [VOCAB_INDEX]
  MODE "interop":    serve Python objects to Go and run the Python-side
                     checks against Go's objects.
  MODE "transcript": only the deterministic Python-side checks, for
                     recording a transcript.
  MODE "keepalive":  no checks; the Python Broker pings after 0.2 s of
                     silence and drops the connection after 0.6 s.
  VOCAB_INDEX is the initial-vocab-table-index, 1 (default) or 0.

Output (stdout, one JSON object per line):
  {"ready": true, "tubid": ...}           once connected
  {"check": NAME, "ok": BOOL, "detail": TEXT}
  {"done": true}                          when all checks ran
The script exits when the connection closes.
"""
import json
import math
import sys

from twisted.internet import defer, protocol, reactor
from zope.interface import implementer

from foolscap import broker, info
from foolscap.api import Referenceable, RemoteInterface, Tub
from foolscap.referenceable import TubRef
from foolscap.schema import Any

OUT = sys.stdout
sys.stdout = sys.stderr  # Twisted may print; keep our JSON lines apart


def emit(**kw):
    OUT.write(json.dumps(kw) + "\n")
    OUT.flush()


class RIGoThing(RemoteInterface):
    __remote_name__ = "RIGoThing.gatherer.test"

    def echo(x=Any()):
        return Any()


class RIPyTarget(RemoteInterface):
    __remote_name__ = "RIPyTarget.gatherer.test"

    def poke(thing=RIGoThing):
        return int


class PyEcho(Referenceable):
    def __init__(self):
        self.recorded = []

    def remote_echo(self, x):
        return x

    def remote_echo_kw(self, **kw):
        return kw

    def remote_fail(self):
        raise ValueError("boom")

    def remote_fail_long(self):
        raise ValueError("y" * 5000)

    def remote_fail_key(self):
        raise KeyError("missing")

    def remote_give_ref(self):
        return Counter()

    def remote_give_method(self):
        return Counter().remote_incr  # a bound method: my-reference, negative clid

    def remote_take_back(self, ref):
        return ref

    def remote_call_me_back(self, ref, value):
        return ref.callRemote("echo", value)

    def remote_record(self, x):
        self.recorded.append(x)

    def remote_recorded(self):
        return self.recorded

    def remote_iname_of(self, ref):
        return ref.tracker.interfaceName or ""

    def remote_url_of(self, ref):
        return ref.tracker.url or ""


class Counter(Referenceable):
    def __init__(self):
        self.n = 0

    def remote_incr(self):
        self.n += 1
        return self.n


@implementer(RIPyTarget)
class PyTarget(Referenceable):
    def remote_poke(self, thing):
        return 17


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def values():
    return [
        ("bytes", b"\x00hello\xff"),
        ("vocab bytes", b"list"),
        ("unicode non-BMP", "h\u00e9llo \U0001F600 \U0001D11E"),
        ("ints", [0, 1, -1, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63, -2**63 - 1, 2**100, -2**100]),
        ("floats", [-0.0, 1e-5, 1e16, 0.1 + 0.2, math.inf, -math.inf]),
        ("none and bools", [None, True, False]),
        ("list", [1, "two", b"three"]),
        ("tuple", (1, (2, 3), ())),
        ("set", {1, 2, 3}),
        ("frozenset", frozenset([4, 5])),
        ("dict non-string keys", {1: "a", 2.5: "b", -3: "c", True: None}),
        ("dict tuple keys", {(1, 2): "t", (0, 1): "u"}),
        ("dict str keys", {"b": 1, "a": [1, 2], "\u00e9": None}),
        ("dict bytes keys", {b"y": 1, b"x": 2}),
        ("nesting 20 deep", nested(20)),
    ]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


class Checker:
    def __init__(self, b, objs, mode):
        self.b = b
        self.objs = objs
        self.mode = mode

    def check(self, name, ok, detail=""):
        emit(check=name, ok=bool(ok), detail=str(detail)[:500])

    def failure_of(self, d):
        """Fire with [the Failure d fails with], or [None]. The list keeps
        a Failure result from failing the Deferred again."""
        return d.addCallbacks(lambda r: [None], lambda f: [f])

    @defer.inlineCallbacks
    def run(self):
        b = self.b
        goecho = yield b.getYourReferenceByName(b"goecho")
        self.check("getReferenceByName goecho", goecho is not None, goecho)
        for name, v in values():
            r = yield goecho.callRemote("echo", v)
            self.check("echo " + name, same(r, v), "got %r" % (r,))
        r = yield goecho.callRemote("echo_kw", b=1, a="x")
        self.check("echo kwargs", same(r, {"a": "x", "b": 1}), "got %r" % (r,))
        r = yield goecho.callRemote("echo_all", 1, 2, k=3)
        self.check("positional and keyword", same(r, ([1, 2], 1)), "got %r" % (r,))

        pyobj = self.objs["pyecho"]
        r = yield goecho.callRemote("call_back", pyobj, 5)
        self.check("reference called back", r == 5, "got %r" % (r,))
        r = yield goecho.callRemote("echo", pyobj)
        self.check("own reference comes back", r is pyobj, "got %r" % (r,))

        (f,) = yield self.failure_of(goecho.callRemote("fail"))
        self.check("go error", f is not None and f.value == "go failure"
                   and "builtins.Exception" in f.parents, repr(f))
        (f,) = yield self.failure_of(goecho.callRemote("fail_typed"))
        self.check("go typed error", f is not None and f.check(ValueError) is not None
                   and f.value == "bad value", repr(f))
        (f,) = yield self.failure_of(goecho.callRemote("fail_long"))
        self.check("go long error truncated", f is not None and f.check(ValueError) is not None
                   and len(f.value) == 999 and "TRACEBACK ELIDED" in f.traceback, repr(f)[:200])

        goecho.callRemoteOnly("record", 7)
        r = yield goecho.callRemote("recorded")
        self.check("callRemoteOnly", r == [7], "got %r" % (r,))

        if self.mode == "interop":
            gothing = yield b.getYourReferenceByName(b"gothing")
            self.check("RI name received", gothing.tracker.interfaceName == "RIGoThing.gatherer.test",
                       gothing.tracker.interfaceName)
            r = yield gothing.callRemote("echo", x=3)
            self.check("call through RemoteInterface", r == 3, "got %r" % (r,))
            r = yield goecho.callRemote("poke_target", self.objs["pytarget"], gothing)
            self.check("python RI check accepted our iname", r == 17, "got %r" % (r,))
        emit(done=True)


class PeerProtocol(protocol.Protocol):
    def __init__(self, tub, go_tubid, mode, vocab):
        self.tub = tub
        self.go_tubid = go_tubid
        self.mode = mode
        self.vocab = vocab

    def connectionMade(self):
        params = {"banana-decision-version": "3", "initial-vocab-table-index": self.vocab}
        keepalive, disconnect = None, None
        if self.mode == "keepalive":
            keepalive, disconnect = 0.2, 0.6
        b = broker.Broker(TubRef(self.go_tubid), params, keepalive, disconnect, info.ConnectionInfo())
        b.setTub(self.tub)
        self.broker = b
        self.dataReceived = b.dataReceived
        b.makeConnection(self.transport)
        emit(ready=True, tubid=self.tub.tubID)
        objs = self.tub._test_objs
        if self.mode == "keepalive":
            emit(done=True)
            return

        def crashed(f):
            emit(check="python side crashed", ok=False, detail=f.getTraceback())
            emit(done=True)
        Checker(b, objs, self.mode).run().addErrback(crashed)

    def connectionLost(self, reason):
        self.broker.connectionLost(reason)
        if reactor.running:
            reactor.stop()


class Factory(protocol.ClientFactory):
    def __init__(self, tub, go_tubid, mode, vocab):
        self.args = (tub, go_tubid, mode, vocab)

    def buildProtocol(self, addr):
        return PeerProtocol(*self.args)

    def clientConnectionFailed(self, connector, reason):
        emit(check="connect", ok=False, detail=str(reason))
        reactor.stop()


def main():
    port, go_tubid, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    vocab = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    tub = Tub()
    tub.setLocation("tcp:127.0.0.1:1")
    objs = {"pyecho": PyEcho(), "pytarget": PyTarget()}
    for name, obj in objs.items():
        tub.registerReference(obj, name)
    tub._test_objs = objs
    reactor.connectTCP("127.0.0.1", port, Factory(tub, go_tubid, mode, vocab))
    reactor.run()


if __name__ == "__main__":
    main()
