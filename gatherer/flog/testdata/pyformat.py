"""Writes the %-formatting and format_message golden tables.

Run by `go test ./gatherer/flog -update` with /usr/bin/python3 (needs
python3-foolscap). Never edit the .jsonl files by hand.

pyformat.jsonl: {"format", "args": JSON text, "tuple": bool,
                 "out": str or null, "error": "Type: msg" or null}
message.jsonl:  {"event": JSON text (one flogfile event dict),
                 "out": format_message(event) or null, "error": ... or null}
"""
import json
import sys

import foolscap
from foolscap.logging.log import format_message

FORMATS = [
    ("plain", "null", False), ("100%%", "[]", True), ("%s", '"x"', False), ("%s", "[1, 2]", False),
    ("%s and %d", '["a", 7]', True), ("%s and %d", '["a", 7]', False), ("%s", "[]", True),
    ("%s %s", '[1]', True), ("abc", '[1]', True), ("abc", "5", False), ("abc", "[]", False),
    ("%05s|%-5s|%5s", '["ab", "cd", "ef"]', True), ("%-5d|%+05d|% d|% +d", "[3, 3, 3, 3]", True),
    ("%#x %#X %#o %x %o", "[255, 255, 8, -255, -8]", True), ("%.3d|%08.3x|%#08x", "[5, -5, -5]", True),
    ("%05.1f|%.0f|%#.0f|%#g|%.0e|%#.0e", "[2.25, 2.5, 2.0, 1.0, 15.0, 15.0]", True),
    ("%e|%E|%f|%F|%g|%G", "[1e300, 1.5, 0.1, 1e22, 1e-05, 123456789.0]", True),
    ("%g|%g|%g|%.3g|%.10g|%g|%g", "[100000.0, 1000000.0, 0.0001, 0.0001234, 0.3333333333333333, 0.0, -0.0]", True),
    ("%f|%F|%e|%g|%010.2f|%-8f|", "[NaN, Infinity, -Infinity, NaN, -Infinity, Infinity]", True),
    ("%x", "[3.0]", True), ("%d", '["a"]', True), ("%d", "[null]", True), ("%i|%d|%u", "[2.9, -2.9, 1e20]", True),
    ("%d", "[NaN]", True), ("%d", "[Infinity]", True), ("%d|%x|%s", "[true, true, false]", True),
    ("%f", '["1"]', True), ("%f", "[null]", True), ("%f", "[1180591620717411303424]", True),
    ("%c|%c", '[65, "z"]', True), ("%c", '["ab"]', True), ("%c", "[1114112]", True), ("%c", "[9731]", True),
    ("%(a)s %s", '{"a": 1}', False), ("%s %(a)s", '{"a": 1}', False), ("%(a)s", '{"b": 1}', False),
    ("%(a)s", "[1]", False), ("%(a)s", "[1]", True), ("%(a)s", '"str"', False), ("%(a)s|%(a)r|%(a)5.2s", '{"a": "xyz"}', False),
    ("%(a)d %(b)05.1f %(c)x", '{"a": 1, "b": 2.5, "c": 255}', False), ("%(a(b))s", '{"a(b)": 1}', False),
    ("%(a)%", '{"a": 1}', False), ("%5%", "[1]", True), ("%5%", "[]", True), ("%%|%s", "[1]", True),
    ("%q", "1", False), ("%q", "[]", True), ("%(a", "{}", False), ("%", "[]", True), ("abc %", "[]", True),
    ("%*d|%-*d|", "[5, 1, -5, 1]", True), ("%*d", '["a", 1]', True), ("%.*f", "[2, 1.2345]", True),
    ("%ld %hd %Lf", "[5, 6, 7.0]", True), ("%.2s|%10.3s|", '["abc", "abcdef"]', True),
    ("%r|%a|%s", '["caf\\u00e9 \\ud83d\\ude00", "caf\\u00e9 \\ud83d\\ude00 \\u0000", "caf\\u00e9"]', True),
    ("%s|%r", '[{"k": [1, 2.5, null, true]}, {"k": "it\'s"}]', True), ("%d", "[1000000000000000000000000000000]", True),
    ("%.50f", "[0.1]", True), ("%s", "[1795759717.1268744]", True), ("%s %s", "[1e16, -0.0]", True),
    ("caf\u00e9 %s \u2603", '["\\u2603"]', True), ("%5s|%-5s|", '["\\u00e9", "\\u2603"]', True),
]

EVENTS = [
    '{"format": "%(label)s-weird happened: %(why)s", "label": "first", "why": "testing", "level": 30, "num": 31}',
    '{"message": "positional %s and %d", "args": ["positional arg", 7], "num": 1}',
    '{"message": "tuple arg", "args": [1, "two"], "num": 1}',
    '{"message": "one %s", "args": [1, "two"], "num": 1}',
    '{"message": "after-subscribe caf\\u00e9 \\u2603", "num": 30}',
    '{"message": "100% sure", "num": 1}',
    '{"message": "", "num": 1}',
    '{"num": 1}',
    '{"format": "count=%(count)d size=%(size)s", "count": 3, "size": 1180591620717411303424}',
    '{"format": "count=%(count)d", "count": "three", "message": "fallback"}',
    '{"format": "count=%(count)d", "count": "three"}',
    '{"format": "%(missing)s", "num": 1}',
    '{"format": 5, "message": "m"}',
    '{"format": "whole event %s", "num": 1, "level": 20}',
    '{"format": "%(num)d %(num)x", "num": 255, "message": "ignored"}',
    '{"format": "%", "message": "bad"}',
    '{"args": [1], "message": "%d%%"}',
    '{"args": [], "message": "%s"}',
    '{"args": {"a": 1}, "message": "%(a)s"}',
    '{"args": "xy", "message": "%s"}',
    '{"args": "xy", "message": "%s%s"}',
    '{"message": 5}',
    '{"message": null}',
    '{"format": "%s %s", "message": 5}',
    '{"args": [1], "num": 1}',
]


def outcome(fn):
    try:
        return {"out": fn(), "error": None}
    except Exception as e:
        return {"out": None, "error": "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__}


def main(outdir):
    header = {"generator": "pyformat.py", "python": sys.version.split()[0],
              "foolscap": foolscap.__version__}
    with open(outdir + "/pyformat.jsonl", "w") as f:
        f.write(json.dumps(header) + "\n")
        for fmt, args, as_tuple in FORMATS:
            a = json.loads(args)
            if as_tuple:
                a = tuple(a)
            row = {"format": fmt, "args": args, "tuple": as_tuple}
            row.update(outcome(lambda: fmt % a))
            f.write(json.dumps(row) + "\n")
    with open(outdir + "/message.jsonl", "w") as f:
        f.write(json.dumps(header) + "\n")
        for ev in EVENTS:
            row = {"event": ev}
            row.update(outcome(lambda: format_message(json.loads(ev))))
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
