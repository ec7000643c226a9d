"""Writes tail.jsonl: what flogtool tail's LogPrinter prints for events.

Run by `go test ./gatherer/flog -update` with /usr/bin/python3 (needs
python3-foolscap). Never edit tail.jsonl by hand. Arguments: the output
directory and the fixtures/flogfiles directory.

Rows: {"versions": <descriptor>, "out": text} once, then
{"event": <descriptor>, "out": {mode: text}, "error": {mode: "Type: msg"}}
for modes short-local, long-local, utc, epoch and verbose, with TZ=UTC.
Descriptors are those of pyjson's golden.py (["str", s], ["tuple", [...]],
["failure", type, value, traceback], ...).
"""
import bz2
import io
import json
import os
import sys
import time

os.environ["TZ"] = "UTC"
time.tzset()

import foolscap
from foolscap.call import CopiedFailure
from foolscap.logging import flogfile
from foolscap.logging.tail import LogPrinter

FIXTURES = [
    "log-gatherer/from-2026-11-27--06-10-12Z---to-2026-11-27--06-10-32Z.flog.bz2",
    "node/logs/incidents/incident-2026-11-27--06-08-37Z-dfeow4y.flog.bz2",
    "tahoe-1.20-report-incident/node/incident-2026-11-27--06-10-23Z-ranpx2y.flog.bz2",
]
MODES = ["short-local", "long-local", "utc", "epoch"]


def desc(v):
    if v is None:
        return ["none"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)]
    if isinstance(v, float):
        return ["float", v.hex()]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, list):
        return ["list", [desc(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [desc(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[desc(k), desc(x)] for k, x in v.items()]]
    if isinstance(v, CopiedFailure):
        return ["failure", v.type.__module__ + "." + v.type.__name__, v.value, v.traceback]
    raise TypeError(type(v))


def failure(typ, value, tb):
    f = CopiedFailure()
    f.setCopyableState({"type": typ, "value": value, "traceback": tb, "parents": [typ]})
    return f


def wire_events():
    inc = ("9f3a0c1b2d4e5f60", None)
    tb = "Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    1/0\nbuiltins.ZeroDivisionError: division by zero\n"
    return [
        {"args": ("positional arg", 7), "incarnation": inc, "level": 20, "message": "positional %s and %d", "num": 1, "time": 1795759313.3812225},
        {"failure": failure("builtins.ZeroDivisionError", "division by zero", tb), "incarnation": inc, "isError": 1,
         "level": 40, "message": "", "num": 2, "time": 1795759313.5, "why": None},
        {"failure": failure("Oops", "v", "Traceback unavailable\n"), "format": "failed: %(why)s", "why": "x", "num": 3, "time": 1795759314.0},
        {b"message": b"py2 sender \xc3\xa9", b"num": 4, b"time": 1795759315.25, b"level": 23},
        {"message": "no level", "num": 5, "time": 1795759316},
        {"format": "%(n)d of %(total)s", "n": 3, "total": 2**70, "num": 6, "time": 1795759317.999, "level": 30},
        {"message": "odd %s", "args": (b"\x00it's",), "num": 7, "time": 0.5},
        {"format": "%(missing)s", "num": 8, "time": 1.0},
        {"message": "no time", "num": 9},
    ]


def printed(options, ev):
    out = io.StringIO()
    p = LogPrinter(options, "k5rxhgobbbbbbbbbbbbbbbbbbbbbbbbb", output=out)
    try:
        p.remote_msg(ev)
    except Exception as e:
        return None, "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
    return out.getvalue(), None


def main(outdir, fixtures):
    events = []
    for rel in FIXTURES:
        for e in flogfile.get_events(os.path.join(fixtures, rel)):
            if "d" in e:
                events.append(e["d"])
    events += wire_events()
    header = {"generator": "tail.py", "python": sys.version.split()[0], "foolscap": foolscap.__version__}
    with open(os.path.join(outdir, "tail.jsonl"), "w") as f:
        f.write(json.dumps(header) + "\n")
        versions = {"twisted": "22.4.0", b"foolscap": b"21.7.0", "demo-app": "1.2.3"}
        out = io.StringIO()
        LogPrinter({"save-to": None, "verbose": False, "timestamps": "utc"}, "k5rx", output=out).got_versions(versions, 1)
        f.write(json.dumps({"versions": desc(versions), "out": out.getvalue()}) + "\n")
        for ev in events:
            row = {"event": desc(ev), "out": {}, "error": {}}
            for mode in MODES + ["verbose"]:
                options = {"save-to": None, "verbose": mode == "verbose",
                           "timestamps": "short-local" if mode == "verbose" else mode}
                text, err = printed(options, ev)
                if err is None:
                    row["out"][mode] = text
                else:
                    row["error"][mode] = err
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
