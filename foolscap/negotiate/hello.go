package negotiate

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
)

// Protocol parameters of python-foolscap 21.7.
const (
	minBananaVersion = 3
	maxBananaVersion = 3
	minVocabIndex    = 0
	maxVocabIndex    = 1
)

// vocabHashes are vocab.hashVocabTable(i): the first 4 hex digits of SHA-1
// over the initial vocabulary table's words joined by NUL.
var vocabHashes = [...]string{0: "da39", 1: "bb33"}

// Hello and decision keys.
const (
	keyNegotiationRange = "banana-negotiation-range"
	keyNegotiationOld   = "banana-negotiation-version"
	keyVocabRange       = "initial-vocab-table-range"
	keyLastConnection   = "last-connection"
	keyIncarnation      = "my-incarnation"
	keyTubID            = "my-tub-id"
	keyError            = "error"
	keyDecisionVersion  = "banana-decision-version"
	keyCurrent          = "current-connection"
	keyVocabIndex       = "initial-vocab-table-index"
)

// makeHello builds our hello (sendHello). lastConnection is set only by the
// TCP client.
func makeHello(tubID, incarnation string, lastConnection *string) map[string]string {
	h := map[string]string{
		keyNegotiationRange: fmt.Sprintf("%d %d", minBananaVersion, maxBananaVersion),
		keyVocabRange:       fmt.Sprintf("%d %d", minVocabIndex, maxVocabIndex),
		keyIncarnation:      incarnation,
		keyTubID:            tubID,
	}
	if lastConnection != nil {
		h[keyLastConnection] = *lastConnection
	}
	return h
}

// errorBlock is what foolscap sends once encrypted (or before the TLS
// handshake, on the client) to report a failure.
func errorBlock(msg string) []byte {
	return formatBlock(map[string]string{keyDecisionVersion: "1", keyError: msg})
}

// bananaErrorToken is a Banana ERROR token (negotiate.sendBananaError): the
// slave has switched to Banana when the decision arrives, so that is how it
// reports a bad decision. Length is base-128 little-endian, then 0x8d.
func bananaErrorToken(msg string) []byte {
	const sizeLimit = 1000
	if len(msg) > sizeLimit {
		msg = msg[:sizeLimit-10] + "..."
	}
	var b []byte
	n := len(msg)
	if n == 0 {
		b = append(b, 0)
	}
	for ; n > 0; n >>= 7 {
		b = append(b, byte(n&0x7f))
	}
	b = append(b, 0x8d)
	return append(b, msg...)
}

// pyInt parses an integer as Python's int() does for the simple forms
// foolscap sends (surrounding whitespace and a sign allowed).
func pyInt(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}

// bestOverlap is negotiate.best_overlap.
func bestOverlap(myMin, myMax, theirMin, theirMax int, name string) (int, *failure) {
	best := min(myMax, theirMax)
	if best < myMin {
		return 0, negotiationError(ErrVersion, fmt.Sprintf("I can't handle %s %d", name, best))
	}
	if best < theirMin {
		return 0, negotiationError(ErrVersion, fmt.Sprintf("You can't handle %s %d", name, best))
	}
	return best, nil
}

// parseRange splits "MIN MAX".
func parseRange(s string) (int, int, *failure) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, internalError(ErrMalformed, "bad range", "range is not two numbers: "+strconv.Quote(s))
	}
	lo, ok1 := pyInt(f[0])
	hi, ok2 := pyInt(f[1])
	if !ok1 || !ok2 {
		return 0, 0, internalError(ErrMalformed, "bad range", "range is not two numbers: "+strconv.Quote(s))
	}
	return lo, hi, nil
}

// helloResult is what evaluating the peer's hello establishes.
type helloResult struct {
	version     int
	peerTubID   string
	incarnation string
	master      bool
}

// remoteErr is the error for an error block the peer sent: ErrRemote, and
// also ErrDuplicateConnection when the peer (the master) refused this
// connection as a duplicate, python-foolscap's exact words, so that the Tub
// can wait for the connection the master kept.
func remoteErr(msg string) error {
	if msg == "Duplicate connection" {
		return fmt.Errorf("%w: %w", ErrRemote, ErrDuplicateConnection)
	}
	return ErrRemote
}

// evaluateHello checks the peer's hello (handleENCRYPTED, evaluateHello,
// evaluateNegotiationVersion1 up to the master decision). wantTubID is the
// FURL's tubid on the TCP client, "" on the server.
func evaluateHello(hello map[string]string, cs tls.ConnectionState, myTubID, wantTubID string) (*helloResult, *failure) {
	if msg, ok := hello[keyError]; ok {
		return nil, &failure{remote: true, msg: msg, err: remoteErr(msg), detail: "peer said " + strconv.Quote(msg)}
	}
	rng, ok := hello[keyNegotiationRange]
	if !ok {
		if _, old := hello[keyNegotiationOld]; old {
			return nil, negotiationError(ErrVersion, "Peer is speaking foolscap-0.0.5 or earlier, which is not compatible with this version. Please upgrade the peer.")
		}
		return nil, negotiationError(ErrMalformed, "No valid banana-negotiation sequence seen")
	}
	theirMin, theirMax, f := parseRange(rng)
	if f != nil {
		return nil, f
	}
	version, f := bestOverlap(minBananaVersion, maxBananaVersion, theirMin, theirMax, "banana version")
	if f != nil {
		return nil, f
	}
	theirTubID, claimed := hello[keyTubID]
	certTubID, err := PeerTubID(cs)
	switch {
	case err != nil && claimed:
		return nil, internalError(ErrNoPeerCertificate, "you must use a certificate to claim a TubID", "peer claims tubid "+strconv.Quote(theirTubID)+" without a certificate")
	case err != nil:
		return nil, internalError(ErrMalformed, "AssertionError", "peer sent neither a certificate nor a tubid")
	case certTubID != theirTubID:
		return nil, internalError(ErrWrongTubID, "TubID mismatch", fmt.Sprintf("peer claims tubid %q but its certificate hashes to %s", theirTubID, certTubID))
	}
	if wantTubID != "" && theirTubID != wantTubID {
		return nil, internalError(ErrWrongTubID, "connected to the wrong Tub", fmt.Sprintf("expected tubid %s, reached %s", wantTubID, theirTubID))
	}
	return &helloResult{
		version:     version,
		peerTubID:   theirTubID,
		incarnation: hello[keyIncarnation],
		master:      myTubID > theirTubID,
	}, nil
}

// decide builds the master's decision (the rest of
// evaluateNegotiationVersion1). It returns the block fields and the result.
func decide(hello map[string]string, hr *helloResult, arb Arbiter, myIncarnation string) (map[string]string, int, int, *failure) {
	lc, hasLC := hello[keyLastConnection]
	seq, err := arb.Decide(Offer{
		PeerTubID:         hr.peerTubID,
		Incarnation:       hr.incarnation,
		LastConnection:    lc,
		HasLastConnection: hasLC,
	}, myIncarnation)
	if err != nil {
		return nil, 0, 0, &failure{public: true, msg: "Duplicate connection", err: fmt.Errorf("%w: %w", ErrDuplicateConnection, err)}
	}
	vr, ok := hello[keyVocabRange]
	if !ok {
		vr = "0 0"
	}
	vmin, vmax, f := parseRange(vr)
	if f != nil {
		return nil, 0, 0, f
	}
	vocab, f := bestOverlap(minVocabIndex, maxVocabIndex, vmin, vmax, "initial vocab set")
	if f != nil {
		return nil, 0, 0, f
	}
	return map[string]string{
		keyCurrent:         fmt.Sprintf("%s %d", myIncarnation, seq),
		keyVocabIndex:      fmt.Sprintf("%d %s", vocab, vocabHashes[vocab]),
		keyDecisionVersion: strconv.Itoa(hr.version),
	}, vocab, seq, nil
}

// decisionResult is what the slave learns from the decision.
type decisionResult struct {
	version    int
	vocab      int
	masterIR   string
	seqnum     int
	hasCurrent bool
}

// acceptDecision is the slave's handleDECIDING/acceptDecisionVersion1.
func acceptDecision(d map[string]string) (*decisionResult, *failure) {
	v := d[keyDecisionVersion]
	if v == "" {
		return nil, negotiationError(ErrMalformed, "No banana-decision-version value")
	}
	version, ok := pyInt(v)
	if !ok || version < 1 || version > maxBananaVersion {
		return nil, internalError(ErrVersion, "bad decision version", "decision version "+strconv.Quote(v))
	}
	if msg, ok := d[keyError]; ok {
		return nil, &failure{remote: true, msg: "Banana negotiation failed: " + msg, err: remoteErr(msg), detail: "peer said " + strconv.Quote(msg)}
	}
	res := &decisionResult{version: version}
	var theirHash string
	if s := d[keyVocabIndex]; s != "" {
		f := strings.Fields(s)
		n, ok := 0, len(f) == 2
		if ok {
			n, ok = pyInt(f[0])
		}
		if !ok {
			return nil, internalError(ErrMalformed, "bad vocab index", "vocab index "+strconv.Quote(s))
		}
		res.vocab, theirHash = n, f[1]
	}
	if res.vocab < minVocabIndex || res.vocab > maxVocabIndex {
		return nil, negotiationError(ErrVersion, fmt.Sprintf("I can't handle initial vocab table index %d", res.vocab))
	}
	if ours := vocabHashes[res.vocab]; res.vocab > 0 && ours != theirHash {
		return nil, negotiationError(ErrVersion, fmt.Sprintf("Our hash for vocab-table-index %d (%s) does not match your hash (%s)", res.vocab, ours, theirHash))
	}
	if cc := d[keyCurrent]; cc != "" {
		if ir, seq, ok := parseConnection(cc); ok {
			res.masterIR, res.seqnum, res.hasCurrent = ir, seq, true
		}
	}
	return res, nil
}
