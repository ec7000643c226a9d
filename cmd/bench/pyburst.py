"""A python-foolscap node that logs a burst of events at once, for cmd/bench.

usage: /usr/bin/python3 pyburst.py GATHERER_FURL COUNT LABEL

The Tub offers its logport to the gatherer (log-gatherer-furl); once the
gatherer has subscribed, COUNT events are logged in one reactor turn (the
subscription keeps 2,000 of them queued and drops the rest, as publish.py
does), and the node waits until its queue is empty and nothing is in
flight. Prints one JSON object: the events logged, the largest queue seen,
and how long delivery took.
"""
import json
import sys
import time

from foolscap.api import Tub
from foolscap.logging import log, publish
from twisted.internet import reactor

FURL, COUNT, LABEL = sys.argv[1], int(sys.argv[2]), sys.argv[3]
subs = []
orig_subscribe = publish.Subscription.subscribe


def subscribe(self, catch_up):
    subs.append(self)
    return orig_subscribe(self, catch_up)


publish.Subscription.subscribe = subscribe


def burst():
    if not subs:
        if time.time() > deadline:
            print(json.dumps({"error": "the gatherer never subscribed"}))
            reactor.stop()
            return
        reactor.callLater(0.05, burst)
        return
    start = time.perf_counter()
    for i in range(COUNT):
        log.msg(format="burst %(label)s %(i)d", label=LABEL, i=i, facility="bench.burst")
    queued = sum(len(s.queue) for s in subs)

    def drained():
        if any(s.queue or s.in_flight for s in subs if s.subscribed):
            if time.perf_counter() - start > 120:
                print(json.dumps({"error": "delivery did not finish in 120 s"}))
                reactor.stop()
                return
            reactor.callLater(0.01, drained)
            return
        print(json.dumps({"logged": COUNT, "queued": queued,
                          "delivery_s": time.perf_counter() - start}))
        sys.stdout.flush()
        reactor.stop()

    reactor.callLater(0, drained)


deadline = time.time() + 30
tub = Tub()
tub.setOption("log-gatherer-furl", FURL)
tub.setLocation("tcp:127.0.0.1:1")  # outbound only; the logport FURL is never dialed
tub.startService()
reactor.callLater(0.05, burst)
reactor.run()
