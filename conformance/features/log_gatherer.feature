@log
Feature: Log gatherer
  A log gatherer writes every event its nodes log into one flogfile, rotated
  every N seconds and compressed with bzip2. The operator's recipe:

    flogtool create-gatherer --port tcp:3117 --location tcp:HOST:3117 --rotate N --bzip DIR
    (cd DIR && twistd -y gatherer.tac)

  A node only sends what it logs once the gatherer has subscribed to it.

  Scenario Outline: a node's events land in a rotated, compressed file
    Given a log gatherer created with "--rotate 2 --bzip" has been started
    And a python-foolscap <foolscap> node that offers its logs to the log gatherer
    And the log gatherer has subscribed to the node's events
    When the node logs the event "hello from the conformance suite"
    Then a compressed file of the log gatherer holds that event, from the node's tubid

    @foolscap-21.7
    Examples: python-foolscap from Debian bookworm
      | foolscap |
      | 21.7     |

    @foolscap-24.9
    Examples: python-foolscap from Debian trixie
      | foolscap |
      | 24.9     |
