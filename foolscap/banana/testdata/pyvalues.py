"""Encode and decode values with python-foolscap's own Banana, for parity tests.

Reads JSON lines {"expr": <python expression>, "go": <hex of Go's encoding>}
from stdin and writes JSON lines {"py": <hex of python's encoding>,
"decoded_equal": <whether python decoded Go's bytes to an equal value>,
"error": <text>} to stdout. Both directions use initial vocab table 1.
"""
import decimal
import io
import json
import math
import sys

from foolscap import storage, vocab


class Transport(io.BytesIO):
    disconnectReason = None

    def loseConnection(self):
        pass


def make_banana():
    b = storage.StorageBanana()
    b.slicerClass = storage.StorageRootSlicer
    b.unslicerClass = storage.StorageRootUnslicer
    b.transport = Transport()
    b.connectionMade()
    b.populateVocabTable(vocab.INITIAL_VOCAB_TABLES[1])
    return b


def encode(obj):
    b = make_banana()
    out = []
    d = b.send(obj)
    d.addCallback(lambda _: out.append(b.transport.getvalue()))
    d.addErrback(lambda f: out.append(f))
    res = out[0]
    if not isinstance(res, bytes):
        raise res.value
    return res


def decode(data):
    b = make_banana()
    b.violation = None
    results = []
    d = b.prepare()
    d.addCallback(results.append)
    b.dataReceived(data)
    if results:
        return results[0]
    raise ValueError("python could not decode: %r %r" % (b.violation, b.disconnectReason))


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


# Twisted prints tracebacks to stdout: keep our JSON lines apart.
out = sys.stdout
sys.stdout = sys.stderr

for line in sys.stdin:
    req = json.loads(line)
    resp = {}
    try:
        obj = eval(req["expr"], {"decimal": decimal, "math": math})
        resp["py"] = encode(obj).hex()
        got = decode(bytes.fromhex(req["go"]))
        resp["decoded_equal"] = same(obj, got)
        if not resp["decoded_equal"]:
            resp["error"] = "python decoded %r" % (got,)
    except Exception as e:  # report, never crash the test
        resp["error"] = "%s: %s" % (type(e).__name__, e)
    out.write(json.dumps(resp) + "\n")
    out.flush()
