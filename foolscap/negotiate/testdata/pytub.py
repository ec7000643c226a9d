"""A real python-foolscap 21.7 Tub for the Go negotiation tests.

  pytub.py server CERTFILE     listen on 127.0.0.1, register an echo object
                               as "echo-swiss"; print "FURL <furl>"
  pytub.py client CERTFILE FURL  getReference(FURL); print "CONNECTED <tubid>"
                               or "FAILED <error>"

Both print "TUBID <tubid>" first, and every foolscap log event at level
OPERATIONAL or above as "FLOG <level> <message>". They run until stdin is
closed. Run with /usr/bin/python3 (Debian's python3-foolscap).
"""
import sys

from twisted.internet import reactor, stdio
from twisted.internet.protocol import Protocol

from foolscap.api import Tub, Referenceable
from foolscap.logging import log


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def observe(ev):
    if ev.get("level", 0) < log.OPERATIONAL:
        return
    msg = ev.get("message") or (ev.get("format", "") % ev if "format" in ev else "")
    f = ev.get("failure")
    if f is not None:
        msg += " failure=" + repr(f.value)
    out("FLOG %d %s" % (ev.get("level", 0), msg.replace("\n", " ")))


class Echo(Referenceable):
    def remote_echo(self, x):
        return x


class StopOnEOF(Protocol):
    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    mode, certfile = sys.argv[1], sys.argv[2]
    log.theLogger.addObserver(observe)
    tub = Tub(certFile=certfile)
    tub.startService()
    out("TUBID " + tub.getTubID())
    if mode == "server":
        port = tub.listenOn("tcp:0:interface=127.0.0.1").getPortnum()
        tub.setLocation("tcp:127.0.0.1:%d" % port)
        out("FURL " + tub.registerReference(Echo(), "echo-swiss"))
    else:
        d = tub.getReference(sys.argv[3])
        d.addCallbacks(lambda rref: out("CONNECTED " + rref.getRemoteTubID()),
                       lambda f: out("FAILED " + repr(f.value).replace("\n", " ")))
    stdio.StandardIO(StopOnEOF())
    reactor.run()


if __name__ == "__main__":
    main()
