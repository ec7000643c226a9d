"""A python-foolscap "node" for the conformance suite.

It behaves like an application that offers its logs to gatherers: a Tub with
`log-gatherer-furl` (one or several FURLs) and/or `log-gatherer-furlfile`,
`log.setLogDir(NODEDIR/logs/incidents)` (so WEIRD events become incidents) and a
`logport-furlfile`. Commands on stdin (see peerctl.py) make it log on demand.

usage: /usr/bin/python3 pynode.py --nodedir DIR [--gatherer FURL]... [options]

  --gatherer FURL          a gatherer FURL (repeatable: one reconnector each)
  --gatherer-file PATH     log-gatherer-furlfile (one FURL per line)
  --ephemeral              fresh Tub key each start (like Tahoe's log Tub);
                           default: persistent key in NODEDIR/node.pem
  --port N                 listen port (0 = any), default 0
  --listen-interface ADDR  default 127.0.0.1
  --location-host HOST     host written in the Tub's location, default 127.0.0.1
  --trailing-delay SECS    incident trailing window (foolscap default 5.0)
  --control STRPORT        also accept commands over TCP (e.g. tcp:7000)
  --allow-stdin-close      keep running when stdin closes

Commands (one per line; each answered with one JSON line):
  info                 tubid, logport FURL, pid, foolscap version, subscriptions
  wait-subscribed [N]  answers once N gatherer subscriptions (default 1) exist
  event [TEXT]         one OPERATIONAL event (TEXT default "hello")
  rich                 events with rich content: non-BMP unicode, float edges,
                       ints beyond 64 bits, nested dicts, a Failure with its
                       traceback, a 5,000-character message
  incident [LABEL]     a WEIRD event (umid "Ab12Cd") preceded by rich events;
                       answers once the incident file is written, with its name
  hold-fetches         from now on, hold back the answers to get_incident (a
                       node too busy to answer), so that a gatherer's fetch
                       stays under way
  release-fetches      answer the held get_incident calls and stop holding
  quit                 exit

Announcements: {"event": "ready", "tubid": ..., "logport": ...} once the Tub
has its location (and so has started connecting to the gatherers).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import foolscap  # noqa: E402
from foolscap.api import Tub  # noqa: E402
from foolscap.eventual import eventually  # noqa: E402
from foolscap.logging import app_versions, incident, log  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from twisted.python import failure  # noqa: E402

import peerctl  # noqa: E402

FIVE_THOUSAND = ("0123456789" * 500)


def parse_args(argv):
    p = argparse.ArgumentParser(description="python-foolscap node for conformance tests")
    p.add_argument("--nodedir", required=True)
    p.add_argument("--gatherer", action="append", default=[])
    p.add_argument("--gatherer-file")
    p.add_argument("--ephemeral", action="store_true")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--listen-interface", default="127.0.0.1")
    p.add_argument("--location-host", default="127.0.0.1")
    p.add_argument("--trailing-delay", type=float, default=5.0)
    p.add_argument("--control")
    p.add_argument("--allow-stdin-close", action="store_true")
    return p.parse_args(argv)


def six_str(s):
    return s.decode("utf-8", "replace") if isinstance(s, bytes) else s


def rich_events(label):
    """Log events whose content stresses a gatherer's serializer."""
    p = log.msg("%s: rich content follows" % label, facility="conformance.rich")
    log.msg(format="unicode %(s)s", s="caf\u00e9 \u2603 \U0001d11e \U0001f600",
            level=log.OPERATIONAL, parent=p)
    log.msg(format="floats %(a)r %(b)r %(c)r %(d)r", a=-0.0, b=1e-05, c=1e16,
            d=0.1 + 0.2, tiny=5e-324, huge=1.7976931348623157e308,
            level=log.OPERATIONAL, parent=p)
    log.msg(format="big ints %(big)d %(neg)d", big=2 ** 70, neg=-(2 ** 100),
            level=log.UNUSUAL, parent=p)
    log.msg("nested", tree={"a": {"b": {"c": {"d": [1, 2.5, None, True, "x"]}}},
                            "t": (1, "two"), "empty": {}},
            level=log.OPERATIONAL, parent=p)
    log.msg(message=FIVE_THOUSAND, level=log.OPERATIONAL, parent=p)
    try:
        raise ValueError("conformance failure \u2603")
    except ValueError:
        log.err(failure.Failure(), "a logged failure", level=log.CURIOUS, parent=p)
    return p


class Node:
    def __init__(self, opts):
        self.opts = opts
        self.waiting = []  # Deferreds waiting for the next recorded incident
        nodedir = opts.nodedir
        os.makedirs(nodedir, exist_ok=True)
        app_versions.add_version("conformance-pynode", "1")
        logger = log.theLogger

        class Reporter(incident.IncidentReporter):
            TRAILING_DELAY = opts.trailing_delay

        logger.setIncidentReporterFactory(Reporter)
        log.setLogDir(os.path.join(nodedir, "logs", "incidents"))
        logger.addImmediateIncidentObserver(self.incident_recorded)

        if opts.ephemeral:
            self.tub = Tub()
        else:
            self.tub = Tub(certFile=os.path.join(nodedir, "node.pem"))
        self.tub.startService()
        self.listener = self.tub.listenOn(
            "tcp:%d:interface=%s" % (opts.port, opts.listen_interface))
        if opts.gatherer:
            value = opts.gatherer[0] if len(opts.gatherer) == 1 else list(opts.gatherer)
            self.tub.setOption("log-gatherer-furl", value)
        if opts.gatherer_file:
            self.tub.setOption("log-gatherer-furlfile", opts.gatherer_file)
        furlfile = os.path.join(nodedir, "logport.furl")
        if opts.ephemeral and os.path.exists(furlfile):
            os.remove(furlfile)  # Tahoe does the same before every start
        self.tub.setOption("logport-furlfile", furlfile)
        self.subscriptions = {"all": 0, "incidents": 0}
        self.subscribed = []  # Deferreds waiting for a subscription
        self.holding = False
        self.held = []  # (Deferred, name) of held get_incident calls

    def _watch_subscriptions(self, publisher):
        """Count the subscriptions gatherers make on our logport.

        A gatherer that has subscribed is the real sign that it is connected,
        so tests wait for it instead of for time to pass."""
        for kind, method in (("all", "remote_subscribe_to_all"),
                             ("incidents", "remote_subscribe_to_incidents")):
            orig = getattr(publisher, method)

            def wrapped(*args, _orig=orig, _kind=kind, **kwargs):
                result = _orig(*args, **kwargs)
                # The publisher activates the subscription (and sends its
                # catch-up) in an eventual-send; the queue is FIFO, so this
                # runs after it.
                eventually(self._subscribed, _kind)
                return result

            setattr(publisher, method, wrapped)

    def _hold_fetches_on_demand(self, publisher):
        """Let hold-fetches delay the answers to get_incident."""
        orig = publisher.remote_get_incident

        def get_incident(name):
            if not self.holding:
                return orig(name)
            d = defer.Deferred()
            self.held.append((d, name))
            peerctl.emit({"event": "fetch-held", "name": six_str(name)})
            return d.addCallback(lambda _: orig(name))

        publisher.remote_get_incident = get_incident

    def _subscribed(self, kind):
        self.subscriptions[kind] += 1
        peerctl.emit({"event": "subscribed", "kind": kind})
        waiting, self.subscribed = self.subscribed, []
        for d in waiting:
            d.callback(dict(self.subscriptions))

    def start(self):
        port = self.listener._lp.getHost().port
        # setLocation starts the reconnectors to the gatherers.
        self.tub.setLocation("tcp:%s:%d" % (self.opts.location_host, port))
        # Connections to the gatherers complete in later reactor turns, so
        # the publisher is watched before any gatherer can subscribe.
        self._watch_subscriptions(self.tub.getLogPort())
        self._hold_fetches_on_demand(self.tub.getLogPort())
        peerctl.emit(dict(self.info([]), event="ready"))

    def incident_recorded(self, name, trigger):
        name = name.decode() if isinstance(name, bytes) else name
        peerctl.emit({"event": "incident-recorded", "name": name})
        waiting, self.waiting = self.waiting, []
        for d in waiting:
            d.callback({"incident": name})

    # commands

    def info(self, args):
        return {"tubid": self.tub.getTubID(), "logport": self.tub.getLogPortFURL(),
                "pid": os.getpid(), "foolscap": foolscap.__version__,
                "subscriptions": dict(self.subscriptions)}

    def wait_subscribed(self, args):
        """Answer once at least N gatherers (default 1) have subscribed."""
        n = int(args[0]) if args else 1
        if sum(self.subscriptions.values()) >= n:
            return dict(self.subscriptions)
        d = defer.Deferred()

        def check(res):
            if sum(res.values()) >= n:
                return res
            d2 = defer.Deferred()
            self.subscribed.append(d2)
            return d2.addCallback(check)

        self.subscribed.append(d)
        return d.addCallback(check)

    def event(self, args):
        text = " ".join(args) or "hello"
        log.msg(text, level=log.OPERATIONAL, facility="conformance.event")
        return {}

    def rich(self, args):
        rich_events("rich")
        return {}

    def incident(self, args):
        label = " ".join(args) or "conformance"
        d = defer.Deferred()
        self.waiting.append(d)
        rich_events(label)
        log.msg(format="%(label)s: something weird happened", label=label,
                level=log.WEIRD, umid="Ab12Cd", facility="conformance.incident")
        log.msg("trailing event after the trigger", level=log.OPERATIONAL)
        return d

    def hold_fetches(self, args):
        self.holding = True
        return {}

    def release_fetches(self, args):
        self.holding = False
        held, self.held = self.held, []
        for d, _ in held:
            d.callback(None)
        return {"released": len(held)}

    def quit(self, args):
        reactor.callLater(0.1, reactor.stop)
        return {}


def main(argv):
    opts = parse_args(argv)
    node = Node(opts)
    commands = {"info": node.info, "event": node.event, "rich": node.rich,
                "wait-subscribed": node.wait_subscribed,
                "incident": node.incident, "hold-fetches": node.hold_fetches,
                "release-fetches": node.release_fetches, "quit": node.quit}
    d = peerctl.serve(commands, opts.control, opts.allow_stdin_close)
    d.addCallback(lambda _: node.start())
    d.addErrback(lambda f: (sys.stderr.write("pynode: %s\n" % f.getErrorMessage()),
                            reactor.stop()))
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
