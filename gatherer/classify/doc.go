// Package classify sorts incidents into categories with a declarative rules
// file, the Go replacement for python-foolscap's classify_*.py plugins.
//
// Layer: gatherer. It owns the rules language and the evaluation of rules
// against an incident's trigger event; it does not touch the gatherer's
// directories (gatherer/incident does). It imports foolscap/banana (the
// value model) and gatherer/flog (Python's message formatting and str()).
//
// Python counterpart: foolscap/logging/incident.py (IncidentClassifierBase):
// every classifier sees only the trigger event dict (header["trigger"]), the
// categories of all classifiers are united, and an incident nobody claims is
// "unknown". See shared/foolscap/gatherers.md §5.3.
//
// # Rules file
//
// The file is DIR/classify.rules, UTF-8, one rule per line:
//
//	# comment (also after a rule, when "#" starts a token)
//	CATEGORY CONDITION... [stop]
//
// A rule matches when all its conditions hold (a rule without conditions
// always matches). Every matching rule contributes its category; a matching
// rule that ends with the word "stop" ends the evaluation, which gives
// first-match semantics like Tahoe's classify_tahoe.py. Conditions:
//
//	field~REGEX    the field is present and REGEX matches somewhere in its text
//	field!~REGEX   the field is absent, or REGEX does not match its text
//	field=TEXT     the field's text is exactly TEXT
//	field!=TEXT    the field is absent or its text differs from TEXT
//	field?         the field is present (Python: "field" in trigger)
//	!field?        the field is absent
//	field?true     the field is present and true in Python's sense
//	               (not None, False, 0, 0.0, "" or empty)
//	!field?true    the field is absent or false
//
// REGEX is Go RE2 syntax (like Python's re.search for the common subset). A
// REGEX or TEXT that contains blanks or "#" is written in single or double
// quotes, e.g. message~"error during query"; quotes take the text verbatim
// (no escapes), so a quoted value cannot contain its own quote character.
//
// Fields are keys of the trigger event (message, format, facility, level,
// umid, isError, failure, or any other key the application logged), plus the
// pseudo-field "text": the event formatted the way flogtool prints it
// (python's foolscap.logging.log.format_message, via gatherer/flog). A
// field's text is its Python str(): bytes are decoded as UTF-8, integers in
// decimal, True/False, None, and a logged failure as str(Failure).
//
// CATEGORY becomes a file name under classified/, so it must be a single path
// component: no "/", no NUL, not "." or "..", not starting with ".".
//
// A missing rules file means no rules: everything is "unknown", as with a
// Python gatherer without plugins. TahoeRules is an example equivalent to
// Tahoe-LAFS's misc/incident-gatherer/classify_tahoe.py.
package classify
