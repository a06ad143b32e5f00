package lookup

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Defaults of Config.
const (
	// DefaultK is the Kademlia bucket size: how many closest nodes must answer.
	DefaultK = 8
	// DefaultAlpha is how many queries may be outstanding (not stalled) at once.
	DefaultAlpha = 3
	// DefaultMaxCandidates caps the candidate set (8 times DefaultK).
	DefaultMaxCandidates = 64
	// DefaultMaxQueries caps the queries of one lookup, a guard against a
	// hostile network that keeps inventing closer nodes.
	DefaultMaxQueries = 256
	// DefaultSpeculate is how many speculative queries may be outstanding.
	DefaultSpeculate = 2
)

// ErrConfig is wrapped by the errors of New for an invalid Config.
var ErrConfig = errors.New("lookup: invalid config")

// Node is a DHT node: its 160-bit id and its UDP address.
type Node struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// Config configures one lookup. The zero value of each numeric field selects
// its default; negative values are an error.
type Config struct {
	// Target is the id looked up.
	Target [20]byte
	// Self is our own node id; nodes claiming it are ignored.
	Self [20]byte
	// K is how many closest nodes must answer before the lookup is done.
	// 0: DefaultK.
	K int
	// Alpha is the number of queries outstanding at once, not counting the
	// stalled ones. 0: DefaultAlpha.
	Alpha int
	// MaxCandidates caps the number of nodes tracked. It is raised to K if
	// smaller. 0: DefaultMaxCandidates.
	MaxCandidates int
	// MaxQueries caps the number of queries issued. 0: DefaultMaxQueries.
	MaxQueries int
	// Speculate is how many queries to nodes past the K closest candidates
	// may be outstanding: asked in case a waiting closer node turns out
	// silent. 0: DefaultSpeculate.
	Speculate int
}

func (c Config) withDefaults() (Config, error) {
	if c.K < 0 || c.Alpha < 0 || c.MaxCandidates < 0 || c.MaxQueries < 0 || c.Speculate < 0 {
		return c, fmt.Errorf("%w: negative K, Alpha, MaxCandidates, MaxQueries or Speculate", ErrConfig)
	}
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = DefaultMaxCandidates
	}
	if c.MaxCandidates < c.K {
		c.MaxCandidates = c.K
	}
	if c.MaxQueries == 0 {
		c.MaxQueries = DefaultMaxQueries
	}
	if c.Speculate == 0 {
		c.Speculate = DefaultSpeculate
	}
	return c, nil
}

type state uint8

const (
	stateNew      state = iota // known, not queried
	stateWaiting               // queried, no answer yet
	stateStalled               // queried, soft timeout passed, no answer yet
	stateAnswered              // answered
	stateFailed                // error reply or hard timeout
)

type entry struct {
	node  Node
	dist  [20]byte
	state state
}

// Lookup is the state of one iterative lookup. It is not safe for concurrent
// use: the driver owns it and feeds it events one at a time.
type Lookup struct {
	cfg     Config
	byAddr  map[netip.AddrPort]*entry // every node ever seen (dedupe)
	byID    map[[20]byte]*entry       // every node ever seen (dedupe)
	list    []*entry                  // live candidates by distance; no failed or evicted ones
	queries int                       // queries issued
	waiting int                       // in flight, not stalled
	stalled int                       // in flight, stalled
	replies int                       // answers received
	failed  int                       // error replies and hard timeouts
}

// New starts a lookup from seeds (typically the closest nodes of our routing
// table). Seeds are filtered like any reported node.
func New(cfg Config, seeds []Node) (*Lookup, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Lookup{
		cfg:    cfg,
		byAddr: make(map[netip.AddrPort]*entry),
		byID:   make(map[[20]byte]*entry),
	}
	l.add(seeds)
	return l, nil
}

func (l *Lookup) add(nodes []Node) {
	for _, n := range nodes {
		l.addOne(n)
	}
}

// usable reports whether a reported address can be queried at all.
func usable(a netip.AddrPort) bool {
	ip := a.Addr()
	return a.IsValid() && a.Port() != 0 && !ip.IsUnspecified() && !ip.IsMulticast()
}

func (l *Lookup) addOne(n Node) {
	n.Addr = netip.AddrPortFrom(n.Addr.Addr().Unmap(), n.Addr.Port())
	if n.ID == l.cfg.Self || !usable(n.Addr) {
		return
	}
	if l.byID[n.ID] != nil || l.byAddr[n.Addr] != nil {
		return
	}
	e := &entry{node: n, dist: Distance(n.ID, l.cfg.Target)}
	if len(l.list) >= l.cfg.MaxCandidates && !l.evictFor(e) {
		return
	}
	l.byID[n.ID] = e
	l.byAddr[n.Addr] = e
	l.insert(e)
}

func (l *Lookup) insert(e *entry) {
	i, _ := slices.BinarySearchFunc(l.list, e, func(a, b *entry) int { return compare(a.dist, b.dist) })
	l.list = slices.Insert(l.list, i, e)
}

func (l *Lookup) remove(e *entry) {
	if i := slices.Index(l.list, e); i >= 0 {
		l.list = slices.Delete(l.list, i, i+1)
	}
}

// evictFor makes room for e by dropping the farthest candidate that is
// farther than e and is either unqueried or an answered node outside the K
// closest answered ones. It reports whether room was made. An evicted node
// stays in the dedupe maps, so it is not added again.
func (l *Lookup) evictFor(e *entry) bool {
	answeredBefore := make([]int, len(l.list))
	n := 0
	for i, c := range l.list {
		answeredBefore[i] = n
		if c.state == stateAnswered {
			n++
		}
	}
	for i := len(l.list) - 1; i >= 0; i-- {
		c := l.list[i]
		if compare(c.dist, e.dist) <= 0 {
			return false
		}
		if c.state == stateNew || (c.state == stateAnswered && answeredBefore[i] >= l.cfg.K) {
			l.list = slices.Delete(l.list, i, i+1)
			return true
		}
	}
	return false
}

// inFlight returns the entry of a node queried at addr that has not answered
// or failed yet, or nil.
func (l *Lookup) inFlight(addr netip.AddrPort) *entry {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	e := l.byAddr[addr]
	if e == nil || (e.state != stateWaiting && e.state != stateStalled) {
		return nil
	}
	return e
}

func (l *Lookup) leaveFlight(e *entry, s state) {
	if e.state == stateWaiting {
		l.waiting--
	} else {
		l.stalled--
	}
	e.state = s
}

// Next returns the nodes to query now and marks them as queried. Call it
// after New and after every event. It returns nothing once Done.
//
// It walks the candidates from the closest, skipping stalled ones, and
// queries the unqueried nodes it meets before K answered ones, while fewer
// than Alpha queries are waiting. Waiting nodes do not fill that window:
// any of them may turn out silent, so up to Speculate nodes past the K
// closest live candidates are asked already.
func (l *Lookup) Next() []Node {
	if l.Done() {
		return nil
	}
	// Queries past the first K live, not stalled candidates are speculative:
	// count those outstanding.
	spec, pos := 0, 0
	for _, e := range l.list {
		if e.state == stateStalled {
			continue
		}
		if pos >= l.cfg.K && e.state == stateWaiting {
			spec++
		}
		pos++
	}
	var out []Node
	answered, pos := 0, 0
	for _, e := range l.list {
		if answered >= l.cfg.K || l.waiting >= l.cfg.Alpha || l.queries >= l.cfg.MaxQueries {
			break
		}
		switch e.state {
		case stateStalled:
			continue
		case stateAnswered:
			answered++
		case stateNew:
			if pos >= l.cfg.K {
				if spec >= l.cfg.Speculate {
					return out
				}
				spec++
			}
			e.state = stateWaiting
			l.waiting++
			l.queries++
			out = append(out, e.node)
		}
		pos++
	}
	return out
}

// Done reports whether the lookup has finished (see the package doc for the
// rule): the K closest live nodes that are not stalled have all answered, or
// nothing is left to query or to wait for.
func (l *Lookup) Done() bool {
	answered := 0
	for _, e := range l.list {
		switch e.state {
		case stateAnswered:
			answered++
			if answered >= l.cfg.K {
				return true
			}
		case stateStalled:
			// A stalled node does not block the K closest; if the walk runs
			// out of candidates, the stall check below waits for it.
		case stateNew:
			if l.queries < l.cfg.MaxQueries {
				return false
			}
		case stateWaiting:
			return false
		}
	}
	return l.waiting == 0 && l.stalled == 0
}

// OnResponse records an answer from the node queried at addr. id is the id
// it answered with, closer the nodes it reported. An answer from a node that
// is not in flight (never queried, already answered or failed) is ignored and
// OnResponse returns false; so is the answer of a node that answers with an
// id already held by another node or our own id (it is marked failed).
func (l *Lookup) OnResponse(addr netip.AddrPort, id [20]byte, closer []Node) bool {
	e := l.inFlight(addr)
	if e == nil {
		return false
	}
	if id != e.node.ID {
		if other := l.byID[id]; other != nil || id == l.cfg.Self {
			l.fail(e)
			return false
		}
		// The node's id is what it says now (it restarted or was seeded
		// with a stale id): re-key and re-sort it.
		delete(l.byID, e.node.ID)
		l.remove(e)
		e.node.ID = id
		e.dist = Distance(id, l.cfg.Target)
		l.byID[id] = e
		l.insert(e)
	}
	l.leaveFlight(e, stateAnswered)
	l.replies++
	l.add(closer)
	return true
}

// OnError records that the node at addr answered with a KRPC error: it
// failed for this lookup. It returns false if addr was not in flight.
func (l *Lookup) OnError(addr netip.AddrPort) bool {
	e := l.inFlight(addr)
	if e == nil {
		return false
	}
	l.fail(e)
	return true
}

// OnTimeout records the hard timeout of the query to addr: the node failed.
// It returns false if addr was not in flight.
func (l *Lookup) OnTimeout(addr netip.AddrPort) bool {
	return l.OnError(addr)
}

func (l *Lookup) fail(e *entry) {
	l.leaveFlight(e, stateFailed)
	l.failed++
	l.remove(e)
}

// OnStalled records the soft timeout of the query to addr: the query stays
// outstanding (a late answer still counts) but no longer occupies one of the
// Alpha slots nor blocks termination. It returns false if addr was not
// waiting.
func (l *Lookup) OnStalled(addr netip.AddrPort) bool {
	e := l.inFlight(addr)
	if e == nil || e.state != stateWaiting {
		return false
	}
	e.state = stateStalled
	l.waiting--
	l.stalled++
	return true
}
