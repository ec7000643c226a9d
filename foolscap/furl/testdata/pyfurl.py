"""Oracle for the FURL/hint corpus: run python-foolscap 21.7's own parsers.

Reads JSON lines on stdin ({"kind": "furl", "input": ...} or
{"kind": "hint", "input": ...}) and writes one JSON result per line, in the
schema of fixtures/furls/*.jsonl. Run with /usr/bin/python3 (Debian's
python3-foolscap).
"""
import json
import sys
import types

# tor.py and i2p.py import txtorcon / txi2p at module level; only their hint
# regexes are used here, so empty stand-in modules are enough.
sys.modules.setdefault("txtorcon", types.ModuleType("txtorcon"))
txi2p = types.ModuleType("txi2p")
txi2p_sam = types.ModuleType("txi2p.sam")
txi2p_sam.SAMI2PStreamClientEndpoint = object
sys.modules.setdefault("txi2p", txi2p)
sys.modules.setdefault("txi2p.sam", txi2p_sam)

import foolscap
from foolscap import furl as ffurl
from foolscap.connections import tcp, tor, i2p

MAX_PORT = 65535


def hint(raw):
    out = {"kind": "", "legacy": False, "host": "", "port": 0, "error": ""}
    out["legacy"] = tcp.OLD_STYLE_HINT_RE.search(raw) is not None
    h = tcp.convert_legacy_hint(raw)
    if ":" not in h:
        out["error"] = "no-colon"
        return out
    kind = h.split(":", 1)[0]
    out["kind"] = kind
    if kind == "tcp":
        mo = tcp.NEW_STYLE_HINT_RE.search(h)
        err = "bad-tcp"
    elif kind == "tor":
        mo = tor.HINT_RE.search(h)
        err = "bad-tor"
    elif kind == "i2p":
        mo = i2p.HINT_RE.search(h)
        err = "bad-i2p"
    else:
        out["error"] = "unknown-type"
        return out
    if not mo:
        out["error"] = err
        return out
    if kind == "i2p":
        port = int(mo.group(3)) if mo.group(3) else 0
    else:
        port = int(mo.group(2))
    if port > MAX_PORT:
        # Python parses it and fails at connect time; Go refuses it early.
        out["error"] = "port-range"
        return out
    out["host"] = mo.group(1).lstrip("[").rstrip("]")
    out["port"] = port
    return out


def furl(text):
    out = {"error": "", "tubid": "", "hints": [], "name": "", "encoded": ""}
    try:
        tubid, hints, name = ffurl.decode_furl(text)
    except ffurl.BadFURLError as e:
        out["error"] = "empty-hint" if "empty" in str(e) else "tubid"
        return out
    except ValueError:
        out["error"] = "prefix"
        return out
    out.update(tubid=tubid, hints=hints, name=name,
               encoded=ffurl.encode_furl(tubid, hints, name))
    return out


def main():
    for line in sys.stdin:
        req = json.loads(line)
        res = furl(req["input"]) if req["kind"] == "furl" else hint(req["input"])
        res["version"] = foolscap.__version__
        sys.stdout.write(json.dumps(res, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
