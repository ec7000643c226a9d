#!/usr/bin/python3
"""Write the stats.json that Tahoe's JSONStatsGatherer would write for the
scenario of TestTahoeScenario (stats_test.go).

Tahoe 1.12 to 1.15.1 (src/allmydata/stats.py) kept
    gathered_stats[tubid] = {'timestamp': time.time(), 'nickname': nickname,
                             'stats': <get_stats() answer>}
and wrote it with json.dump(gathered_stats, f): default separators, ASCII
output with \\uXXXX escapes, no trailing newline. Python 2's json decoded the
UTF-8 byte strings of a py2 node as text, so the dicts below hold str.

Python 2 dict order was arbitrary; the Go gatherer fixes it (ids sorted;
timestamp, nickname, stats; the node's own order inside), and this script
inserts in that order so the bytes can be compared.

Run: /usr/bin/python3 tahoe_stats_json.py OUTFILE   (go test -run TestTahoeScenario -update)
"""
import json
import sys

T1 = 1616500000.125   # first poll round
T2 = 1616500060.123   # second poll round

gathered_stats = {}
# a: Python 2 storage node, every key and the nickname sent as bytes.
gathered_stats["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] = {
    "timestamp": T2,
    "nickname": "storage-7 \u00e9",
    "stats": {
        "counters": {"storage_server.allocate": 12, "uploader.files_uploaded": 3},
        "stats": {
            "node.uptime": 86400.5,
            "cpu_monitor.total": 12.3,
            "cpu_monitor.1min_avg": None,
            "load_monitor.avg_load": 0.0012,
            "load_monitor.max_load": 1.5e-05,
            "storage_server.disk_avail": 83842835968,
            "storage_server.accepting_immutable_shares": 1,
            "storage_server.disk_total": 2**70,
        },
    },
}
# b: a newer peer sending str.
gathered_stats["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"] = {
    "timestamp": T2,
    "nickname": "client-\U0001F600",
    "stats": {"counters": {}, "stats": {"node.uptime": 5.744404554367065}},
}
# c: answered in round 1, then disconnected: kept with its old timestamp.
gathered_stats["cccccccccccccccccccccccccccccccc"] = {
    "timestamp": T1,
    "nickname": 'gateway "c" \\',
    "stats": {"counters": {"downloader.files_downloaded": 1}, "stats": {}},
}
# d: answers malformed stats every time: never stored.
# e: get_stats() failed in round 1 (dropped), called provide() again, answered in round 2.
gathered_stats["eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"] = {
    "timestamp": T2,
    "nickname": "reborn",
    "stats": {"counters": {}, "stats": {"node.uptime": 1.0}},
}

with open(sys.argv[1], "w") as f:
    json.dump(gathered_stats, f)
