@tail @tahoe-1.20 @slow
Feature: Following a Tahoe node's log live
  An operator on the node's host follows its log with

    flogtool tail --catch-up NODEDIR/private/logport.furl

  (the log Tub's FURL names localhost, so this works only on that host). The
  tail connects to the node's logport, which a Tahoe 1.20 node serves with
  python-foolscap 24.9; with --catch-up it first prints the recent events.

  Scenario: the tail shows a report saved on the node's web page
    Given a Tahoe node
    When an operator saves an incident report with "curl --data details=seen-by-tail"
    And an operator follows the node's log with "tail --catch-up" on its private/logport.furl
    Then the tail shows "User reports incident through web page: seen-by-tail"
