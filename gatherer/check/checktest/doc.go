// Package checktest starts the gatherers and broken servers that
// gatherer-check is tested against: our Go gatherers in-process (foolscap/tub
// plus gatherer/incident, gatherer/logs or gatherer/stats), python-foolscap's
// reference gatherers (flogtool create-*-gatherer, then twistd3), a dead port,
// an HTTP server, a silent server and a Foolscap-looking server with the wrong
// certificate. It is test support only: every function takes a testing.TB and
// registers its cleanup there.
//
// Layer: gatherer (test support). It imports the foolscap core and the
// gatherer services; nothing but tests may import it.
package checktest
