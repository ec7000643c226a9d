package negotiate

import (
	"strconv"
	"strings"
	"sync"
)

// Offer is what the master knows about a new connection when it must decide
// whether to keep it: the peer's hello fields that matter for §3.7.
type Offer struct {
	PeerTubID string
	// Incarnation is the peer's my-incarnation ("" if absent).
	Incarnation string
	// LastConnection is the peer's last-connection value ("<IR> <seqnum>");
	// HasLastConnection is false when the peer (a TCP server) sent none.
	LastConnection    string
	HasLastConnection bool
}

// Existing describes the live connection the master already has to a peer:
// the peer incarnation and the seqnum it was created with
// (current_slave_IR, current_seqnum).
type Existing struct {
	SlaveIncarnation string
	Seqnum           int
}

// Arbiter holds the Tub-wide connection state negotiation consults
// (the Tub's brokers, master_table and slave_table). Implementations must be
// safe for concurrent use; each method is one atomic step.
type Arbiter interface {
	// LastConnection returns the slave_table record for peer — the
	// master incarnation and seqnum of the last decision it sent us — or
	// ok=false ("none 0").
	LastConnection(peerTubID string) (masterIncarnation string, seqnum int, ok bool)
	// Decide runs when we are master. If a connection to the peer exists,
	// it applies CompareOffer: on reject it returns ErrDuplicateConnection;
	// on accept it drops the old connection ("replaced by a new
	// connection"). It then increments master_table[peer] and returns the
	// new seqnum for current-connection.
	Decide(offer Offer, myIncarnation string) (seqnum int, err error)
	// Decided runs when we are slave and accepted a decision: it drops any
	// existing connection to the peer and records slave_table[peer].
	// hasCurrent is false when the decision had no current-connection.
	Decided(peerTubID, masterIncarnation string, seqnum int, hasCurrent bool)
}

// CompareOffer applies python-foolscap's compareOfferAndExisting rules
// (wire-protocol.md §3.7) without the handle-old-duplicate-connections
// option: true keeps the new offer, false keeps the existing connection.
func CompareOffer(offer Offer, existing Existing, myIncarnation string) bool {
	if offer.Incarnation == "" || !offer.HasLastConnection {
		return false // pre-0.2.0 peer, or we are the TCP client
	}
	if offer.Incarnation != existing.SlaveIncarnation {
		return true // the peer restarted
	}
	ir, seq, ok := parseConnection(offer.LastConnection)
	if !ok || ir == "none" {
		return false
	}
	if ir != myIncarnation {
		return true // the peer remembers one of our past lives
	}
	return seq == existing.Seqnum
}

// parseConnection splits "<IR> <seqnum>".
func parseConnection(s string) (string, int, bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return "", 0, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, false
	}
	return f[0], n, true
}

// MemoryArbiter is a self-contained Arbiter for tests and for callers
// without a Tub: Attach and Detach stand for brokers coming and going.
type MemoryArbiter struct {
	// OnReplace, if set, is called (with the lock released) when a new
	// connection to peer replaces an existing one.
	OnReplace func(peerTubID string)

	mu       sync.Mutex
	existing map[string]Existing
	master   map[string]int
	slave    map[string]slaveRecord
}

type slaveRecord struct {
	ir  string
	seq int
}

// NewMemoryArbiter returns an empty arbiter.
func NewMemoryArbiter() *MemoryArbiter {
	return &MemoryArbiter{
		existing: make(map[string]Existing),
		master:   make(map[string]int),
		slave:    make(map[string]slaveRecord),
	}
}

// Attach records a live connection to peer (what the Tub does when it
// attaches a broker after negotiation).
func (a *MemoryArbiter) Attach(peerTubID string, e Existing) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.existing[peerTubID] = e
}

// Detach forgets the live connection to peer.
func (a *MemoryArbiter) Detach(peerTubID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.existing, peerTubID)
}

// LastConnection implements Arbiter.
func (a *MemoryArbiter) LastConnection(peer string) (string, int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.slave[peer]
	return r.ir, r.seq, ok
}

// Decide implements Arbiter.
func (a *MemoryArbiter) Decide(offer Offer, myIncarnation string) (int, error) {
	a.mu.Lock()
	replaced := false
	if e, ok := a.existing[offer.PeerTubID]; ok {
		if !CompareOffer(offer, e, myIncarnation) {
			a.mu.Unlock()
			return 0, ErrDuplicateConnection
		}
		delete(a.existing, offer.PeerTubID)
		replaced = true
	}
	a.master[offer.PeerTubID]++
	seq := a.master[offer.PeerTubID]
	a.mu.Unlock()
	if replaced && a.OnReplace != nil {
		a.OnReplace(offer.PeerTubID)
	}
	return seq, nil
}

// Decided implements Arbiter.
func (a *MemoryArbiter) Decided(peer, masterIncarnation string, seqnum int, hasCurrent bool) {
	a.mu.Lock()
	_, replaced := a.existing[peer]
	delete(a.existing, peer)
	if hasCurrent {
		a.slave[peer] = slaveRecord{ir: masterIncarnation, seq: seqnum}
	}
	a.mu.Unlock()
	if replaced && a.OnReplace != nil {
		a.OnReplace(peer)
	}
}
