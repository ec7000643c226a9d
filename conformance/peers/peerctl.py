"""Control channel shared by the conformance peers (pynode.py, pystats.py).

A peer reads one command per line and answers each with one JSON object per
line, on the same channel:

  * standard input / standard output (always; the peer exits when stdin closes,
    unless --allow-stdin-close is given, like `tahoe run`);
  * optionally a TCP listener (--control tcp:PORT:interface=ADDR), for peers in
    containers, which the test driver reaches over the network.

Besides the answers, the peer announces facts unprompted as JSON lines on
stdout ({"event": "ready", ...}). Every answer carries "command" (how the
driver tells answers from announcements) and "ok": true or "error": "...".
Commands are dispatched to a dict of callables {name: f(args) -> dict or
Deferred}. Runs under Debian's /usr/bin/python3 with python3-foolscap.

Run as a program, it is a client of that TCP listener, for when the driver
cannot reach it over the network (a container taken off its network: the
driver then runs this inside the container, against the loopback):

  python3 peerctl.py send HOST:PORT COMMAND...   prints the one-line answer
"""

import json
import shlex
import sys

from twisted.internet import defer, endpoints, reactor, stdio
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver


def emit(obj):
    """Print one JSON line on stdout (announcements; not tied to a command)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


class _Control(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, commands, on_close):
        self.commands = commands
        self.on_close = on_close

    def _reply(self, obj):
        self.transport.write(json.dumps(obj, sort_keys=True).encode("utf-8") + b"\n")

    def lineReceived(self, line):
        line = line.decode("utf-8", "replace").strip()
        if not line or line.startswith("#"):
            return
        try:
            words = shlex.split(line)
        except ValueError as e:
            self._reply({"error": "cannot parse command: %s" % e, "command": line})
            return
        name, args = words[0], words[1:]
        f = self.commands.get(name)
        if f is None:
            self._reply({"error": "unknown command %r (known: %s)"
                         % (name, " ".join(sorted(self.commands))),
                         "command": name})
            return
        d = defer.maybeDeferred(f, args)

        def ok(res):
            out = {"ok": True, "command": name}
            out.update(res or {})
            self._reply(out)

        def bad(f):
            self._reply({"error": "%s: %s" % (name, f.getErrorMessage()),
                         "command": name})

        d.addCallbacks(ok, bad)

    def connectionLost(self, reason):
        if self.on_close:
            self.on_close()


def serve(commands, control=None, allow_stdin_close=False):
    """Attach the command table to stdin and, if given, a TCP endpoint."""

    def stdin_closed():
        if not allow_stdin_close and reactor.running:
            reactor.stop()

    stdio.StandardIO(_Control(commands, stdin_closed))
    if control:
        ep = endpoints.serverFromString(reactor, control)

        class F(Factory):
            def buildProtocol(self, addr):
                return _Control(commands, None)

        return ep.listen(F())
    return defer.succeed(None)


def _send(addr, line, timeout=120):
    """Send one command to a peer's TCP control listener; return the answer line."""
    import socket
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(line.encode("utf-8") + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode("utf-8")


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "send":
        sys.exit("usage: peerctl.py send HOST:PORT COMMAND...")
    answer = _send(sys.argv[2], " ".join(sys.argv[3:]))
    if not answer:
        sys.exit("peerctl.py: the peer closed the control connection without answering")
    sys.stdout.write(answer)
