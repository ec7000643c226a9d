"""A python-foolscap node whose incidents already exist on disk, for the
reliability tests of cmd/gatherer (an incident over the size limit).

usage: /usr/bin/python3 serve_incidents.py INCIDENT_DIR GATHERER_FURL

INCIDENT_DIR holds incident-*.flog files made by the test; the node's
IncidentPublisher offers them to the gatherer at subscription (catch-up) and
serves them from the files on get_incident. The node runs until killed and
listens on 127.0.0.1 only. Written for this project; python-foolscap 21.7.
"""
import sys
from twisted.internet import reactor
from foolscap.api import Tub
from foolscap.logging import log

incdir, gatherer = sys.argv[1], sys.argv[2]
log.setLogDir(incdir)
tub = Tub()
tub.startService()
listener = tub.listenOn("tcp:0:interface=127.0.0.1")
tub.setOption("log-gatherer-furl", gatherer)
tub.setLocation("tcp:127.0.0.1:%d" % listener._lp.getHost().port)
print("tubid", tub.getTubID(), flush=True)
reactor.run()
