"""A python-foolscap node for the differential tests of cmd/gatherer.

usage: /usr/bin/python3 emit_rich.py NODEDIR GATHERER_FURLFILE LINGER_SECONDS
(NODEDIR/logport.furl is the logport's FURL, for "tail")

Listens on 127.0.0.1 only, offers its logport to every gatherer FURL in
GATHERER_FURLFILE (one per line), logs events that exercise the flogfile
encoding (non-BMP text, floats at repr edges, ints beyond 64 bits, nested
argument dicts, a failure with its traceback, a 5,000-character message),
then one WEIRD event, which makes an incident; 7 s after it has set its
location (when log gatherers have subscribed) it logs a marker, the same
events again, one event whose dict has a bytes key (Python's json.dumps
refuses it) and one more; it exits after LINGER_SECONDS.
Written for this project (not copied from foolscap); python-foolscap 21.7.
"""
import sys, os
from twisted.internet import reactor
from twisted.python import failure
from foolscap.api import Tub
from foolscap.logging import log, app_versions

nodedir, furlfile, linger = sys.argv[1], sys.argv[2], float(sys.argv[3])
os.makedirs(nodedir, exist_ok=True)
app_versions.add_version("rich-app", "0.1")
log.setLogDir(os.path.join(nodedir, "logs", "incidents"))

tub = Tub(certFile=os.path.join(nodedir, "node.pem"))
tub.startService()
listener = tub.listenOn("tcp:0:interface=127.0.0.1")
tub.setOption("log-gatherer-furlfile", furlfile)
tub.setOption("logport-furlfile", os.path.join(nodedir, "logport.furl"))

def go():
    tub.setLocation("tcp:127.0.0.1:%d" % listener._lp.getHost().port)
    print("tubid", tub.getTubID()); sys.stdout.flush()
    rich()
    reactor.callLater(1.0, trigger)
    # Log gatherers only get events logged after they subscribed; the
    # incident (trigger + 5 s trailing window) is closed by then.
    reactor.callLater(7.0, later)

def later():
    log.msg("marker: events from here on reach every log gatherer", facility="rich.marker")
    rich()
    log.msg(format="unserializable %(o)s", o=b"raw", keyed={b"bytes-key": 1}, facility="rich.bad")
    log.msg("after the unserializable event", facility="rich.after")

def rich():
    log.msg("non-BMP \U0001F600 snowman \u2603 caf\u00e9 del\x7f tab\t", facility="rich.text")
    log.msg(format="floats %(a)r %(b)r", a=1e16, b=1e-05,
            edges=[0.1, 1.0, -0.0, 1e22, 5e-324, 1.7976931348623157e308, 1e15, 123456789.125,
                   float("nan"), float("inf"), -float("inf")], facility="rich.float")
    log.msg(format="big %(n)d", n=2**70, neg=-(2**65), exact=2**63, facility="rich.int")
    log.msg("nested", data={"a": {"b": [1, 2.5, {"c": None, "d": True}]}, "t": (1, "two"),
                            "k": {"z": 1, "a": 2}}, facility="rich.nested")
    try:
        {}["missing"]
    except KeyError:
        log.err(failure.Failure(), "caught a KeyError", facility="rich.failure")
    log.msg("x" * 5000, facility="rich.long")

def trigger():
    log.msg(format="%(label)s-weird happened: %(why)s", label="rich", why="testing",
            level=log.WEIRD, umid="Ab12Cd", facility="demo.app")
    log.msg("trailing event", level=log.OPERATIONAL)

reactor.callLater(1.0, go)
reactor.callLater(linger, reactor.stop)
reactor.run()
