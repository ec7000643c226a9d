package main

const rulesHelp = `Classification rules: DIR/classify.rules

The incident gatherer files every incident under one or more categories:
DIR/classified/CATEGORY lists "incidents/<tubid>/<name>.flog.bz2", one line
per incident. Rules look only at the incident's trigger event. An incident
no rule matches is filed under "unknown". This file replaces the Python
gatherer's classify_*.py plugins.

One rule per line; "#" starts a comment:

  CATEGORY CONDITION... [stop]

A rule matches when all its conditions hold (no conditions: always). Every
matching rule adds its category; a matching rule ending in "stop" ends the
evaluation (first-match, like Tahoe's classify_tahoe.py). Conditions:

  field~REGEX    field present and REGEX matches somewhere in its text
  field!~REGEX   field absent, or REGEX does not match
  field=TEXT     field's text is exactly TEXT
  field!=TEXT    field absent or its text differs
  field?         field present
  !field?        field absent
  field?true     field present and true (not None, False, 0, "", empty)
  !field?true    field absent or false

REGEX is Go RE2 syntax. Quote a REGEX or TEXT holding blanks or "#" with '...'
or "..." (taken verbatim, no escapes). Fields are the trigger event's keys
(message, format, facility, level, umid, isError, failure, ...) plus "text",
the event formatted as flogtool prints it. Values compare as Python's str():
level 30 is "30", True is "True", a failure is its traceback text.
CATEGORY becomes a file name: no "/", no leading ".".

Example:

  user-incident-button  umid=LkD9Pw stop
  weird-demo            facility~^demo\. level=30
  db-trouble            text~"database (is locked|disk image is malformed)"

"gatherer create-incident-gatherer --tahoe-rules DIR" writes the rules
equivalent to Tahoe-LAFS's classify_tahoe.py. Rules are read at start;
"gatherer reclassify DIR" (gatherer stopped) redoes classified/ with new rules.
`
