@stats @go-only
Feature: Stats gatherer
  A stats gatherer collects the counters and statistics of Tahoe-LAFS nodes
  into one file, stats.json. Step 5 of the operators' recipe:

    nodes with stats_gatherer.furl call provide(provider, nickname); the
    gatherer polls get_stats() and writes stats.json

  The gatherer is created and started with

    gatherer create-stats-gatherer --port tcp:3119 --location tcp:HOST:3119 DIR
    gatherer run [--poll-interval 60s] [--metrics 127.0.0.1:9119] DIR

  and each node is given the FURL in DIR/stats_gatherer.furl as
  "stats_gatherer.furl" in the [client] section of its tahoe.cfg. stats.json
  maps each node's tubid to its "timestamp", "nickname" and "stats" (the
  "counters" and "stats" of get_stats()). Tahoe-LAFS 1.16 and later no longer
  call a stats gatherer; they serve the same numbers at /statistics?t=json on
  their web port, and the gatherer polls every web URL listed in DIR/web_nodes.
  Here the gatherer polls every second rather than every minute, so that the
  scenarios are quick.

  Tahoe-LAFS 1.15.1 and older, the last releases with a stats gatherer and a
  provide() call, cannot be installed here, so the nodes that provide their
  stats are a python-foolscap program that behaves as such a node did, and
  there is no reference gatherer to compare with: these scenarios carry the
  tag @go-only, run against our gatherer only, and the conformance matrix
  shows them as "n/a" for the Python implementation, with that reason.

  Background:
    Given a stats gatherer that polls every second has been created and started

  Scenario Outline: a node's stats appear in stats.json under its tubid
    Given a python-foolscap <foolscap> node "storage-1" whose stats_gatherer.furl points at the stats gatherer
    Then stats.json holds the stats of "storage-1" under its tubid, with its nickname, counters and stats

    @foolscap-21.7
    Examples: python-foolscap from Debian bookworm
      | foolscap |
      | 21.7     |

    @foolscap-24.9
    Examples: python-foolscap from Debian trixie
      | foolscap |
      | 24.9     |

  @foolscap-21.7
  Scenario: a node that sends its nickname and names as text is recorded alike
    Tahoe-LAFS nodes on Python 2 sent the nickname and every name in the
    stats as bytes; a node on Python 3 sends text. The gatherer takes both.

    Given a python-foolscap 21.7 node "py3-node" whose stats_gatherer.furl points at the stats gatherer and that sends its names as text
    Then stats.json holds the stats of "py3-node" under its tubid, with its nickname, counters and stats

  @foolscap-21.7
  Scenario: a node answering with malformed stats does not spoil the others
    The gatherer logs the malformed answer and skips it; the other nodes are
    recorded as usual.

    Given a python-foolscap 21.7 node "storage-1" whose stats_gatherer.furl points at the stats gatherer
    And a python-foolscap 21.7 node "broken" whose stats_gatherer.furl points at the stats gatherer and that answers get_stats() with malformed stats
    When the stats gatherer has asked "broken" for its stats 3 times
    Then stats.json holds the stats of "storage-1" under its tubid, with its nickname, counters and stats
    And stats.json has no entry for "broken"
    And the stats gatherer's twistd.log says it skipped a malformed answer from "broken"

  @foolscap-21.7
  Scenario: a node that goes away keeps its last entry, marked stale
    As Tahoe's gatherer did, the entry of a node that stopped stays in
    stats.json with the timestamp of its last answer; /metrics tells it apart
    with tahoe_node_stale.

    Given a python-foolscap 21.7 node "storage-1" whose stats_gatherer.furl points at the stats gatherer
    And a python-foolscap 21.7 node "storage-2" whose stats_gatherer.furl points at the stats gatherer
    And stats.json holds the stats of "storage-1" under its tubid, with its nickname, counters and stats
    When "storage-1" goes away
    Then /metrics marks the entry of "storage-1" as stale
    And stats.json keeps the last entry of "storage-1", from before it went away, while the entry of "storage-2" is refreshed

  @foolscap-21.7
  Scenario: a restarted gatherer keeps its FURL and the node provides again
    Given a python-foolscap 21.7 node "storage-1" whose stats_gatherer.furl points at the stats gatherer
    And stats.json holds the stats of "storage-1" under its tubid, with its nickname, counters and stats
    When the stats gatherer is restarted
    Then the stats gatherer's FURL is unchanged
    And "storage-1" provides its stats again: its entry in stats.json is refreshed after the restart

  @foolscap-21.7
  Scenario: /metrics carries the node's values labelled by its nickname
    "gatherer run --metrics ADDR" serves the collected stats in Prometheus
    text format: one family per stats key (tahoe_counters_*, tahoe_stats_*),
    labelled with the node's nickname and tubid.

    Given a python-foolscap 21.7 node "storage-1" whose stats_gatherer.furl points at the stats gatherer
    And stats.json holds the stats of "storage-1" under its tubid, with its nickname, counters and stats
    When an operator reads the stats gatherer's /metrics
    Then the metrics carry the counters and stats of "storage-1", labelled with its nickname and tubid

  @tahoe-1.20 @slow
  Scenario: a Tahoe 1.20 node listed by its web URL is polled over HTTP
    The gatherer reads <web URL>/statistics?t=json and files the answer under
    the web URL (a Tahoe 1.20 node has no tubid to offer over HTTP).

    Given a Tahoe node
    When an operator lists the node's web URL in the stats gatherer's web_nodes, with the nickname "tahoe-web"
    Then stats.json holds the node's /statistics under its web URL, with the nickname "tahoe-web"
