"""Writes the pyjson golden tables from the real Python json module.

Run by `go test ./gatherer/flog/pyjson -update` with /usr/bin/python3 (it
needs python3-foolscap for ExtendedEncoder and CopiedFailure). Never edit
the .jsonl files by hand.

encode.jsonl: {"name", "value": <descriptor>, "json": json.dumps(...) or
null, "error": str(TypeError) or null, "repr": repr(value) or null}
decode.jsonl: {"name", "input" or "hex", "value": <descriptor> or null,
"json": re-encoded, "repr", "error": str(exception) or null}

Descriptors: ["none"], ["bool", b], ["int", "digits"], ["float", float.hex],
["str", text] or ["strcp", [code points]] (when text holds surrogates),
["bytes", hex], ["list"|"tuple"|"set"|"frozenset", [items]],
["dict", [[k, v], ...]], ["decimal", text], ["failure", type, value, tb].
"""
import decimal
import json
import sys

import foolscap
from foolscap.call import CopiedFailure
from foolscap.logging.flogfile import ExtendedEncoder


def has_surrogate(s):
    return any(0xD800 <= ord(c) <= 0xDFFF for c in s)


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
        if has_surrogate(v):
            return ["strcp", [ord(c) for c in v]]
        return ["str", v]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, list):
        return ["list", [desc(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [desc(x) for x in v]]
    if isinstance(v, frozenset):
        return ["frozenset", [desc(x) for x in v]]
    if isinstance(v, set):
        return ["set", [desc(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[desc(k), desc(x)] for k, x in v.items()]]
    if isinstance(v, decimal.Decimal):
        return ["decimal", str(v)]
    if isinstance(v, CopiedFailure):
        return ["failure", v.type.__module__ + "." + v.type.__name__, v.value, v.traceback]
    raise TypeError(type(v))


def failure(typ, value, tb):
    f = CopiedFailure()
    f.setCopyableState({"type": typ, "value": value, "traceback": tb, "parents": [typ]})
    return f


def deterministic_repr(v):
    """repr() unless it depends on hash order (sets of several items)."""
    if isinstance(v, (set, frozenset)) and len(v) > 1:
        return None
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(deterministic_repr(x) is not None for x in v) and repr(v) or None
    if isinstance(v, dict):
        ok = all(deterministic_repr(k) is not None and deterministic_repr(x) is not None
                 for k, x in v.items())
        return repr(v) if ok else None
    return repr(v)


FLOATS = [0.0, -0.0, 1.0, -1.0, 2.0, 100.0, 0.5, 1e-5, 1e-4, 0.0001234, 0.00012345678901234,
          1e15, 1e16, 9999999999999998.0, 1234567890123456.7, 0.1, 0.1 + 0.2, 1/3, 2/3,
          1e21, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
          2.0**53, 2.0**53 + 2, 2.0**63, 2.0**64, 123456789012345678.0, 1795759717.1268744,
          1795759722.2437553, 1795759817.879293, 1.5e300, -2.5e-7, 12345.678, 1e-7, 4.35,
          float("nan"), float("inf"), float("-inf")]
INTS = [0, 1, -1, 7, 2**31, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64, 2**70,
        2**100, -2**100, 10**40]
STRS = ["", "plain text", "caf\xe9 \u2603", "\U0001f600", "a\U0001f600b\U00010000\U0010ffff",
        "\x7f", "\x00\x01\x1f", "\b\f\n\r\t\"\\/", "<>&", "\u2028\u2029", "\ud800", "\udc00",
        "\ud83d" + "x", "\udfff\ud800", "it's", 'say "hi"', "it's \"both\"", "\x80\xa0\xad\xff",
        "\u200b\u00ad", "\ue000", "\U000e0001", "\u0378", "\u3000", "\u0300", "\ufeff",
        "tab\there", "%(message)s", "x" * 300]
BYTES = [b"", b"\x00\x01", b"it's", b"'\"", b'say "hi"', b"\\\t\n\r\x7f\xff", b"abc",
         bytes(range(256))]


def deep(n):
    v = 1
    for _ in range(n):
        v = [v]
    return v


def encode_cases():
    cases = []
    for f in FLOATS:
        cases.append(("float " + repr(f), f))
    for i in INTS:
        cases.append(("int " + str(i), i))
    for b in (True, False, None):
        cases.append((repr(b), b))
    for i, s in enumerate(STRS):
        cases.append(("str %d %s" % (i, ascii(s)[:40]), s))
    for i, b in enumerate(BYTES):
        cases.append(("bytes %d" % i, b))
    cases += [
        ("empty list", []),
        ("empty tuple", ()),
        ("one tuple", (1,)),
        ("tuple", (1, "two", 3.0)),
        ("list", [1, [2, [3, []]], {"a": None}]),
        ("empty dict", {}),
        ("dict order kept", {"z": 1, "a": 2, "m": [3]}),
        ("dict keys int float bool none", {1: "i", 1.5: "f", True: "t", False: "f2", None: "n",
                                             2**100: "big", float("nan"): "nan",
                                             float("-inf"): "ninf", -0.0: "nz", 1e16: "e"}),
        ("dict nested", {"a": {"b": {"c": {"d": [1, 2, {"e": "f"}]}}}}),
        ("empty set", set()),
        ("set one", {7}),
        ("set ints", {1, 2, 3}),
        ("frozenset one", frozenset({"x"})),
        ("empty frozenset", frozenset()),
        ("bytes in list", [b"x", "x"]),
        ("decimal", decimal.Decimal("1.50")),
        ("decimal inf", decimal.Decimal("-Infinity")),
        ("failure", failure("builtins.ValueError", "boom",
                            "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nbuiltins.ValueError: boom\n")),
        ("failure no module", failure("Oops", "it's \"bad\"", "Traceback unavailable\n")),
        ("event with failure", {"failure": failure("builtins.KeyError", "'k'", "tb\n"), "isError": 1,
                                "level": 30, "why": None}),
        ("bytes key", {b"k": 1}),
        ("tuple key", {(1, 2): 1}),
        ("frozenset key", {frozenset(): 1}),
        ("decimal key", {decimal.Decimal(1): 1}),
        ("nested bytes key", [1, {"a": {b"k": 1}}]),
        ("deep", deep(30)),
    ]
    return cases


DECODE_INPUTS = [
    "null", "true", "false", "0", "-0", "-0.0", "1", "-1", "123", "1.5", "1e5", "1E5", "1e+5",
    "1.5e-3", "1.0", "1e400", "-1e400", "1e-400", "0.1", "2.5E+300", "5e-324",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "1180591620717411303424", "1" * 4300, "1" * 4301, "-" + "1" * 4301,
    "NaN", "Infinity", "-Infinity", "[NaN, Infinity, -Infinity]",
    '""', '"abc"', '"caf\\u00e9 \\u2603"', '"\\ud83d\\ude00"', '"\\uD83D\\uDE00"', '"\\ud800"',
    '"\\udc00"', '"\\ud83d\\u0041"', '"\\udc00\\ud800"', '"\\ud800\\ud800"', '"\\ud800x"',
    '"\\u0000"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"', '"caf\u00e9 raw \u2603 \U0001f600"',
    '"\\u007f"', '"a\\u12"', '"a\\u12"x', '"\\ud83d\\u12"', '"\\ud83d\\uzzzz"', '"\\uzzzz"',
    '"\\x"', '"\\', '"abc', '"a\x01"', '"a\tb"', '"\\u1234', '"\\ud83d\\ude00',
    "[]", "[1, 2, [3, [4]]]", "[ 1 ,2 ]", " [1]\n", "\t{}\r\n", "{}",
    '{"a": 1, "b": 2, "a": 3}', '{"z": 1, "a": {"y": [], "b": {}}}', '{"a":1}',
    "", " ", "\n", "[", "[1,", "[1,]", "[1 2]", "{", '{"a"', '{"a":', '{"a" 1}', '{"a":1,}',
    '{"a":1 "b":2}', "{1:2}", "-", "--1", "01", "1.", "1.e5", "1e", "1e+", ".5", "+1", "nul",
    "nulll", "tru", "NaNa", "Inf", "-Inf", "1 2", "[1]]", "\ufeff1", "[\"a\"\n,\n1,\nx]",
    '{"header": {"type": "gatherer", "start": 1795759812.355345}}',
    '{"from": "67xgfwcpbiuyd6sviaef4ztfpmnld3a4", "rx_time": 1795759817.879293, "d": {"facility": "demo.lg", "incarnation": ["3d1c2488ab282af8", null], "level": 20, "message": "after-subscribe caf\\u00e9 \\u2603", "num": 30, "time": 1795759817.860938}}\n',
    "[" * 50 + "]" * 50,
    "{" + ", ".join('"k%d": %d' % (i % 18, i) for i in range(40)) + "}",
    "{" + ", ".join('"k%d": %d' % (i, i) for i in range(17)) + ', "k3": "again", "k16": null}',
]
PREFIX_SOURCE = ('{"from": "local", "rx_time": 1795759717.131025, "d": {"args": [-1, 2.5e-07, true, false, null, NaN, -Infinity], '
                 '"message": "caf\\u00e9 \\ud83d\\ude00 \\"q\\"", "num": 12345678901234567890, "x": {}}}')
DECODE_BYTES = [b'"\xff"', b'"caf\xc3"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"ok" \x80',
                b'"\xf0\x9f\x98"', b'\xe2\x82']


def decode_case(name, raw):
    row = {"name": name}
    try:
        row["input"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        row["hex"] = raw.hex()
    try:
        v = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        row.update(value=None, json=None, repr=None, error=str(e))
        return row
    row.update(value=desc(v), json=json.dumps(v, cls=ExtendedEncoder), repr=repr(v), error=None)
    return row


def main(outdir):
    header = {"generator": "golden.py", "python": sys.version.split()[0],
              "foolscap": foolscap.__version__}
    with open(outdir + "/encode.jsonl", "w") as f:
        f.write(json.dumps(header) + "\n")
        for name, v in encode_cases():
            row = {"name": name, "value": desc(v)}
            try:
                row["json"] = json.dumps(v, cls=ExtendedEncoder)
                row["error"] = None
            except TypeError as e:
                row["json"] = None
                row["error"] = str(e)
            row["repr"] = deterministic_repr(v)
            f.write(json.dumps(row) + "\n")
    with open(outdir + "/decode.jsonl", "w") as f:
        f.write(json.dumps(header) + "\n")
        for i, s in enumerate(DECODE_INPUTS):
            f.write(json.dumps(decode_case("text %d %s" % (i, ascii(s)[:40]), s.encode("utf-8"))) + "\n")
        for i, b in enumerate(DECODE_BYTES):
            f.write(json.dumps(decode_case("bytes %d %s" % (i, b.hex()), b)) + "\n")
        # Every strict prefix of a real event line: each must fail (or parse
        # as something shorter) exactly as in Python, with the same message.
        for n in range(len(PREFIX_SOURCE)):
            f.write(json.dumps(decode_case("prefix %d" % n, PREFIX_SOURCE[:n].encode("utf-8"))) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
