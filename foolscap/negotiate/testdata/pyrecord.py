"""Record a Python<->Python foolscap negotiation, seen from the server side.

Two Tubs in one process on 127.0.0.1; the server Tub's Negotiation
protocol is instrumented: every byte it writes (before and inside TLS,
until it switches to Banana) and every byte it receives is printed as a
JSON line {"from_client": bool, "tls": bool, "hex": "..."}, then
{"client_tubid": ..., "server_tubid": ..., "host": ...} at the end.
Run with /usr/bin/python3 (Debian's python3-foolscap).
"""
import json
import sys

from twisted.internet import reactor

from foolscap import negotiate
from foolscap.api import Tub, Referenceable

events = []
Negotiation = negotiate.Negotiation
orig_data_received = Negotiation.dataReceived
orig_start_tls = Negotiation.startTLS
orig_switch = Negotiation.switchToBanana
orig_made = Negotiation.connectionMade


def record(self, from_client, data):
    if getattr(self, "_rec_on", False) and data:
        events.append({"from_client": from_client, "tls": self._rec_tls,
                       "hex": data.hex()})


def connection_made(self):
    if not self.isClient:
        self._rec_on, self._rec_tls = True, False
        write = self.transport.write
        self._rec_orig_write = write

        def recording_write(data, self=self, write=write):
            record(self, False, data)
            return write(data)
        self.transport.write = recording_write
    return orig_made(self)


def data_received(self, chunk):
    record(self, True, chunk)
    return orig_data_received(self, chunk)


def start_tls(self, cert):
    r = orig_start_tls(self, cert)
    self._rec_tls = True
    return r


def switch_to_banana(self, params):
    if getattr(self, "_rec_on", False):
        self._rec_on = False
        self.transport.write = self._rec_orig_write
    return orig_switch(self, params)


Negotiation.connectionMade = connection_made
Negotiation.dataReceived = data_received
Negotiation.startTLS = start_tls
Negotiation.switchToBanana = switch_to_banana


class Echo(Referenceable):
    def remote_echo(self, x):
        return x


def main():
    server, client = Tub(), Tub()
    server.startService()
    client.startService()
    port = server.listenOn("tcp:0:interface=127.0.0.1").getPortnum()
    server.setLocation("tcp:127.0.0.1:%d" % port)
    furl = server.registerReference(Echo(), "echo-swiss")
    d = client.getReference(furl)

    def done(res):
        for e in events:
            print(json.dumps(e))
        print(json.dumps({"client_tubid": client.getTubID(),
                          "server_tubid": server.getTubID(),
                          "host": "127.0.0.1"}))
        reactor.stop()
        if not hasattr(res, "getRemoteTubID"):
            sys.stderr.write("getReference failed: %r\n" % (res,))
            sys.exit(1)
    d.addBoth(done)
    reactor.callLater(20, reactor.stop)
    reactor.run()


if __name__ == "__main__":
    main()
