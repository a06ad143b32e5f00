package lookup

import "net/netip"

// Closest returns up to K answered nodes closest to the target, closest
// first: the nodes a put stores on and whose answers a get weighs.
func (l *Lookup) Closest() []Node {
	var out []Node
	for _, e := range l.list {
		if e.state == stateAnswered {
			out = append(out, e.node)
			if len(out) == l.cfg.K {
				break
			}
		}
	}
	return out
}

// Responders returns every answered node still tracked, closest first. A
// put that needs a token from each target walks it past the nodes that gave
// none.
func (l *Lookup) Responders() []Node {
	var out []Node
	for _, e := range l.list {
		if e.state == stateAnswered {
			out = append(out, e.node)
		}
	}
	return out
}

// Answered reports whether the node at addr has answered.
func (l *Lookup) Answered(addr netip.AddrPort) bool {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	e := l.byAddr[addr]
	return e != nil && e.state == stateAnswered
}

// Stats counts what a lookup has done so far.
type Stats struct {
	Queries  int // queries issued
	Replies  int // answers received
	Failed   int // error replies and hard timeouts
	InFlight int // queries outstanding, stalled ones included
	Stalled  int // outstanding queries past their soft timeout
}

// Stats returns the counters of the lookup.
func (l *Lookup) Stats() Stats {
	return Stats{
		Queries:  l.queries,
		Replies:  l.replies,
		Failed:   l.failed,
		InFlight: l.waiting + l.stalled,
		Stalled:  l.stalled,
	}
}
