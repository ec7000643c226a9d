"""python-foolscap's own codec and call speed, for cmd/bench.

usage: /usr/bin/python3 pycodec.py SECONDS

Prints one JSON object: Banana encode/decode of a 200-event batch (the
value foolscap/banana's BenchmarkEncode/BenchmarkDecode use), FURL
parsing, and sequential callRemote round trips between two Tubs over
loopback TLS.
"""
import json
import warnings
import sys
import time

from foolscap import storage
from foolscap.api import Referenceable, Tub
from foolscap.furl import decode_furl
from twisted.internet import defer, reactor

warnings.simplefilter("ignore", DeprecationWarning)
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
FURL = ("pb://fafh6c7flkglf3use5jrqf3hh3ubwgyb@tcp:127.0.0.1:31181,"
        "tcp:[2001:db8::1]:3118,example.org:3117/ju5ipkmjnz6oxmhyzj5gba6jxxlqbfzk")


def bench_value():
    return [{"format": "uploaded %(size)d bytes to %(server)s", "level": 20,
             "num": 1000 + i, "time": 1.7e9 + i / 10, "facility": "tahoe.upload",
             "size": (1 << 20) + i, "server": "v0-abcdefghijklmnopqrstuvwxyz",
             "incarnation": ("0123456789abcdef", None)} for i in range(200)]


def sync(d):
    out = []
    d.addBoth(out.append)
    if not out:
        raise RuntimeError("serialize did not complete synchronously")
    if isinstance(out[0], Exception) or hasattr(out[0], "raiseException"):
        raise RuntimeError(str(out[0]))
    return out[0]


def timed(fn):
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - start
        if el >= SECONDS:
            return n, el


class Echo(Referenceable):
    def remote_echo(self, x):
        return x


@defer.inlineCallbacks
def roundtrips(res):
    a, b = Tub(), Tub()
    a.startService()
    b.startService()
    port = a.listenOn("tcp:0:interface=127.0.0.1")
    a.setLocation("tcp:127.0.0.1:%d" % port.getPortnum())
    furl = a.registerReference(Echo())
    ref = yield b.getReference(furl)
    arg = {"format": "event %(n)d", "num": 7, "time": 1.7e9, "facility": "tahoe.upload"}
    yield ref.callRemote("echo", arg)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        yield ref.callRemote("echo", arg)
        n += 1
    res["callremote_per_s"] = n / (time.perf_counter() - start)
    yield a.stopService()
    yield b.stopService()


def main():
    import foolscap
    value = bench_value()
    data = sync(storage.serialize(value))
    res = {"foolscap": foolscap.__version__, "python": sys.version.split()[0],
           "batch_bytes": len(data)}
    n, el = timed(lambda: sync(storage.serialize(value)))
    res["encode_mb_s"] = n * len(data) / el / 1e6
    res["encode_batches_s"] = n / el
    n, el = timed(lambda: sync(storage.unserialize(data)))
    res["decode_mb_s"] = n * len(data) / el / 1e6
    res["decode_batches_s"] = n / el
    n, el = timed(lambda: decode_furl(FURL))
    res["furl_parse_per_s"] = n / el

    def done(_):
        print(json.dumps(res))
        reactor.stop()

    def failed(f):
        res["error"] = f.getErrorMessage()
        done(None)

    d = roundtrips(res)
    d.addCallbacks(done, failed)
    reactor.run()


main()
