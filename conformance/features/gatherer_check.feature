@check
Feature: Checking a gatherer with gatherer-check
  gatherer-check probes a gatherer the way a node would (connect to the FURL,
  check its identity, ask for the gatherer interface) and says what is wrong:

    gatherer-check pb://TUBID@HOST:PORT/SWISSNUM      (or the gatherer's directory)

  It exits 0 for a healthy gatherer and with a documented code otherwise.
  It must judge our gatherer and python-foolscap's alike. A stats gatherer
  exists only as ours (python-foolscap has none; see stats_gatherer.feature),
  so its scenario is @go-only: "n/a" for the Python implementation.

  Scenario Outline: a running <kind> gatherer is healthy
    Given <article> <kind> gatherer has been created and started
    When an operator runs gatherer-check on the gatherer's FURL
    Then gatherer-check exits with status 0

    Examples:
      | article | kind     |
      | an      | incident |
      | a       | log      |

  Scenario: a FURL with a wrong swissnum does not lead to a gatherer
    Given an incident gatherer has been created and started
    When an operator runs gatherer-check on the gatherer's FURL with a wrong swissnum
    Then gatherer-check exits with status 4

  @stats @go-only
  Scenario: a running stats gatherer is healthy and reported as one
    Given a stats gatherer has been created and started
    When an operator runs gatherer-check on the gatherer's FURL
    Then gatherer-check exits with status 0
    And gatherer-check reports a stats gatherer
