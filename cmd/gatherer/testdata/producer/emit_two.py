"""A python-foolscap node for TestRestartCatchUp of cmd/gatherer.

usage: /usr/bin/python3 emit_two.py NODEDIR GATHERER_FURL FIRST SECOND LINGER

Declares an incident FIRST seconds after start and another one SECOND
seconds after start (each recorded 0.5 s later: the trailing window is
shortened from foolscap's 5 s), then exits after LINGER seconds. Listens on
127.0.0.1 only. Written for this project; python-foolscap 21.7.
"""
import sys, os
from twisted.internet import reactor
from foolscap.api import Tub
from foolscap.logging import log
from foolscap.logging.incident import IncidentReporter

nodedir, gatherer = sys.argv[1], sys.argv[2]
first, second, linger = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
IncidentReporter.TRAILING_DELAY = 0.5
log.setLogDir(os.path.join(nodedir, "logs", "incidents"))
tub = Tub(certFile=os.path.join(nodedir, "node.pem"))
tub.startService()
listener = tub.listenOn("tcp:0:interface=127.0.0.1")
tub.setOption("log-gatherer-furl", gatherer)
tub.setLocation("tcp:127.0.0.1:%d" % listener._lp.getHost().port)

def incident(label):
    log.msg(format="%(label)s-weird happened", label=label, level=log.WEIRD, umid="Ab12Cd")

reactor.callLater(first, incident, "first")
reactor.callLater(second, incident, "second")
reactor.callLater(linger, reactor.stop)
reactor.run()
