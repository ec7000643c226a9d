@faults @foolscap-21.7
Feature: Incident gatherer through crashes, pauses and network cuts
  An incident gatherer promises that every incident its nodes still hold is
  stored exactly once, whatever crashes, pauses and network cuts happen in
  between (docs/reliability.md). Each scenario does one such thing to a node
  or to the gatherer and ends with the operator's exactly-once check: each
  incident in the nodes' incident directories is in the gatherer's
  incidents/<tubid>/ once, as incident-*.flog.bz2, whole, and listed once
  under classified/; each node's "latest" names its newest incident; and
  nothing else is left there (no temporary file, no second copy).

  In container mode every peer is a container on the scenario's own Docker
  network: a pause is "docker pause", a kill is "docker kill" (SIGKILL, as a
  crash or the OOM killer), "started again" is "docker start" of the same
  container, and taking a peer off the network is "docker network
  disconnect" (back with "docker network connect", at the address it had).
  In process mode a pause is SIGSTOP and SIGCONT and a kill is SIGKILL of the
  peer's processes; the peers share the host's loopback, so there is no
  network to take one off, and the scenarios that need one (@container-only)
  show as n/a there.

  The nodes keep their Tub key (so their tubid) and their incident directory
  on disk, as a Tahoe node's storage Tub does. Each records an incident in
  about a second (a trailing window of one second instead of five).

  Background:
    Given an incident gatherer has been created and started
    And two python-foolscap 21.7 nodes, "node-1" and "node-2", that offer their incidents to the incident gatherer
    And the incident gatherer has subscribed to the incidents of both nodes
    And each node has recorded an incident that the incident gatherer has stored

  Scenario: a node killed before the gatherer fetched its incidents offers them again when it is back
    The gatherer is paused, so the node's new incidents are offered but not
    fetched; the node is killed and started again while the gatherer is
    still paused. When the gatherer resumes it finds the offers of a
    connection that is gone and the node back on a new one, under the same
    tubid, offering what the gatherer has not stored yet.

    When the incident gatherer is paused
    And "node-1" records 2 incidents
    And "node-1" is killed
    And "node-1" is started again
    And the incident gatherer is resumed
    Then "node-1" is back under the tubid it had, holding all 3 of its incidents
    And every incident the nodes hold is stored exactly once

  Scenario: a gatherer paused while its nodes record incidents gathers them once it resumes
    The nodes' connections stay open while the gatherer is paused: the
    kernel accepts their offers, and the gatherer reads them when it resumes.

    When the incident gatherer is paused
    And each node records 2 incidents
    And the incident gatherer is resumed
    Then every incident the nodes hold is stored exactly once

  Scenario: a gatherer killed while its nodes record incidents catches up once started again on its directory
    The nodes' reconnectors find the gatherer again at the same FURL; the
    gatherer asks each for the incidents after the last one it stored.

    When the incident gatherer is killed
    And each node records 2 incidents
    And the incident gatherer is started again
    Then every incident the nodes hold is stored exactly once

  Scenario: a gatherer killed in the middle of a fetch fetches that incident again, and stores it once
    The node holds back its answer to the gatherer's get_incident (a hook of
    the test node, playing a node too busy to answer), so that the fetch is
    under way when the gatherer is killed. Nothing of it may be left behind;
    the gatherer started again is offered the incident again, fetches it a
    second time and keeps one copy.

    When "node-1" holds back its answers to the gatherer's fetches
    And "node-1" records an incident
    And the incident gatherer's twistd.log says it is fetching the last incident of "node-1"
    And the incident gatherer is killed
    And "node-1" answers the gatherer's fetches again
    And the incident gatherer is started again
    Then every incident the nodes hold is stored exactly once
    And the incident gatherer's twistd.log says it fetched the last incident of "node-1" twice: the fetch cut short was repeated

  @container-only
  Scenario: a node taken off the network while it records incidents has them gathered once it is back
    Neither end notices the cut: the node's offers wait in its socket and
    TCP sends them again once the node is back at the same address, on the
    same connection (no reconnection is needed or made).

    When "node-1" is taken off the network
    And "node-1" records 2 incidents
    And "node-1" is put back on the network
    Then every incident the nodes hold is stored exactly once
    And the incident gatherer's twistd.log says each node connected once: no connection was lost

  @container-only
  Scenario: a gatherer taken off the network while its nodes record incidents gathers them once it is back
    The nodes' offers wait in their sockets and reach the gatherer when it
    is back at the same address, on the same connections.

    When the incident gatherer is taken off the network
    And each node records 2 incidents
    And the incident gatherer is put back on the network
    Then every incident the nodes hold is stored exactly once
    And the incident gatherer's twistd.log says each node connected once: no connection was lost
