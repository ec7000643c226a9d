// Package logport is the wire side of the Foolscap logging interfaces for
// the gatherers: the root object nodes call (RILogGatherer), the node's
// publisher as the gatherer services see it (RILogPublisher), and the
// observer objects the node calls back (RILogObserver).
//
// Layer: gatherer/. It imports foolscap/pb and the interfaces of
// gatherer/incident and gatherer/logs, and nothing from cmd/.
//
// It follows python-foolscap 21.7's logging/interfaces.py and the calls
// that logging/gatherer.py makes, as shared/foolscap/gatherers.md §1.1 and
// §2 describe them: logport(nodeid, publisher) arrives with positional
// arguments; subscribe_to_incidents(observer, catch_up=True, since=<bytes>)
// and subscribe_to_all(observer) go out in python's wire form; incident
// names and since are sent as bytes; our observers travel as my-references
// named RILogObserver.foolscap.lothar.com, which the node checks.
package logport
