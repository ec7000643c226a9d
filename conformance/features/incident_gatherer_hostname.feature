@incident @nat
Feature: Incident gatherer behind NAT
  A gatherer behind NAT advertises a host name instead of an IP address:

    flogtool create-incident-gatherer --port tcp:3118 --location tcp:gatherer.example.org:3118 DIR

  Nodes resolve the name in the FURL and connect as usual.

  @foolscap-21.7
  Scenario: a gatherer whose FURL names its host
    Given an incident gatherer whose location is a host name has been created and started
    And a python-foolscap 21.7 node that offers its logs to the incident gatherer
    And the incident gatherer has subscribed to the node's incidents
    When the node records an incident
    Then the incident gatherer keeps a copy of that incident under the node's tubid
