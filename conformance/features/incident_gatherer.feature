@incident
Feature: Incident gatherer
  An incident gatherer keeps a copy of every incident that its nodes record,
  and files each copy under a category. The operator's recipe this checks:

    flogtool create-incident-gatherer --port tcp:3118 --location tcp:HOST:3118 DIR
    (cd DIR && twistd -y gatherer.tac)

  ("ls -lart incidents classified" then shows one directory per publishing
  tubid, holding the copies and a file "latest", and one file per category),
  and then each node is given the gatherer's FURL (DIR/log_gatherer.furl) as
  its log gatherer: the log-gatherer-furl Tub option for a foolscap program,
  log_gatherer.furl in the [node] section of tahoe.cfg for a Tahoe node.

  Background:
    Given an incident gatherer has been created and started

  Scenario Outline: a node's incident is gathered
    Given a python-foolscap <foolscap> node that offers its logs to the incident gatherer
    And the incident gatherer has subscribed to the node's incidents
    When the node records an incident
    Then the incident gatherer keeps a copy of that incident under the node's tubid
    And the incident is listed in the "unknown" classification
    And the incident gatherer's twistd.log says it connected to the node and fetched the incident
    And the incident gatherer remembers that incident as the node's latest
    And "ls -lart incidents classified" in the gatherer's directory shows the node's directory, its incident and latest, and the "unknown" classification

    @foolscap-21.7
    Examples: python-foolscap from Debian bookworm
      | foolscap |
      | 21.7     |

    @foolscap-24.9
    Examples: python-foolscap from Debian trixie
      | foolscap |
      | 24.9     |

  @foolscap-21.7
  Scenario: a node catches the gatherer up after the gatherer was down
    A node keeps its incidents in its log directory; when the gatherer comes
    back, the node's reconnector finds it and the gatherer fetches what it
    missed (the node remembers nothing; the gatherer asks for everything
    after the last incident it saved).

    Given a python-foolscap 21.7 node that offers its logs to the incident gatherer
    And the incident gatherer has subscribed to the node's incidents
    When the incident gatherer is stopped
    And the node records an incident
    And the incident gatherer is started again
    Then the incident gatherer keeps a copy of that incident under the node's tubid
    And the incident is listed in the "unknown" classification

  @tahoe-1.20 @slow
  Scenario: a Tahoe node's incident report is gathered
    The recipe's "curl --data flop localhost:3456/report_incident" posts a
    form without a "details" field: the node saves the report all the same,
    with empty details (observed with Tahoe-LAFS 1.20).

    Given a Tahoe node whose log_gatherer.furl points at the incident gatherer
    When an operator saves an incident report with "curl --data flop"
    Then the incident gatherer keeps a copy of that incident under the tubid of the node's log Tub
    And the copy's trigger is the web page's incident report with details ""
    And the incident is listed in the "unknown" classification

  @tahoe-1.20 @slow
  Scenario: a Tahoe node connects again after a restart, under a new tubid
    Tahoe's log Tub gets a fresh key at every start, so after a restart the
    node reaches the gatherer as a new publisher and offers its stored
    incidents again. Here the implementations differ, each as documented:
    python-foolscap's gatherer fetches them again into a second directory and
    lists them twice; ours recognises an incident it already holds (same name
    and trigger) and keeps the one copy.

    Given a Tahoe node whose log_gatherer.furl points at the incident gatherer
    And an operator saves an incident report with "curl --data flop"
    And the incident gatherer keeps a copy of that incident under the tubid of the node's log Tub
    When the Tahoe node is restarted
    Then the incident gatherer's twistd.log says the node connected again under its new tubid
    And the incident offered again is handled as the implementation documents

  @cross @foolscap-21.7
  Scenario: our gatherer and the reference keep the same copy of an incident
    Both implementations gather from one node at the same time; their copies
    must match byte for byte once decompressed, except for rx_time (the time
    each gatherer saved the copy).

    Given the other implementation's incident gatherer has been created and started too
    And a python-foolscap 21.7 node that offers its logs to both incident gatherers
    And both incident gatherers have subscribed to the node's incidents
    When the node records an incident
    Then both incident gatherers keep a copy of that incident under the node's tubid
    And the two copies are identical apart from their rx_time

  @cross @tahoe-1.20 @slow
  Scenario: a Tahoe node's incident report is kept the same by our gatherer and the reference
    A Tahoe node takes a single log_gatherer.furl, so the operator moves it
    from one gatherer to the other; after the restart its log Tub has a new
    tubid and offers the stored report again. The two copies must match byte
    for byte once decompressed, except for rx_time and the tubid each
    gatherer saw the node under.

    Given the other implementation's incident gatherer has been created and started too
    And a Tahoe node whose log_gatherer.furl points at the incident gatherer
    And an operator saves an incident report with "curl --data flop"
    And the incident gatherer keeps a copy of that incident under the tubid of the node's log Tub
    When the operator points the Tahoe node's log_gatherer.furl at the other incident gatherer and restarts the node
    Then the other incident gatherer keeps a copy of that incident under the tubid of the node's log Tub
    And the two copies are identical apart from their rx_time and the log Tub's tubid
