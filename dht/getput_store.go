package dht

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht/lookup"
	"github.com/dhtdb/dhtdb/krpc"
)

// storeReport is what a storing round (put or announce_peer) achieved.
type storeReport struct {
	stored   int         // nodes that acknowledged
	rejected map[int]int // KRPC error code -> count
	timedOut int         // nodes that never answered
	msgs     int         // queries sent, retransmissions included
}

// writeToken is what a storing query to one node needs: the token it gave
// in the lookup, and the round-trip time it answered in.
type writeToken struct {
	token []byte
	rtt   time.Duration
}

// confirmFunc asks the node at addr whether it holds what was just stored.
type confirmFunc func(ctx context.Context, addr netip.AddrPort) bool

// storeOn sends query q with args (the token filled in per node) to every
// node of targets in parallel and waits for all of them. A node that has not
// answered within the soft timeout (or 3/2 of the RTT it showed in the
// lookup, if longer, up to 4 soft timeouts) gets one retransmission, so that
// a lost packet does not cost the hard timeout. Storing twice is
// harmless (the same item or peer again refreshes it), except under a CAS: a
// retransmitted put refused with a CAS mismatch may have been refused
// because the first copy landed, so confirm (if not nil) then checks.
func (n *Node) storeOn(ctx context.Context, targets []lookup.Node, tokens map[netip.AddrPort]writeToken,
	q string, args krpc.Args, confirm confirmFunc) storeReport {
	type result struct {
		err  error
		msgs int
	}
	results := make(chan result, len(targets))
	for _, t := range targets {
		a := args
		a.Token = tokens[t.Addr].token
		retry := min(max(n.softTimeout(), tokens[t.Addr].rtt*3/2), 4*n.softTimeout())
		go func() {
			msgs, err := n.storeOne(ctx, t.Addr, q, a, retry, confirm)
			results <- result{err, msgs}
		}()
	}
	rep := storeReport{rejected: map[int]int{}}
	for range targets {
		res := <-results
		rep.msgs += res.msgs
		var kerr *krpc.Error
		switch {
		case res.err == nil:
			rep.stored++
		case errors.As(res.err, &kerr):
			rep.rejected[kerr.Code]++
		default:
			rep.timedOut++
		}
	}
	return rep
}

// storeOne stores on one node, with one retransmission after retryAfter. The first answer wins: nil for an acknowledgement, a *krpc.Error
// for a refusal; otherwise the error of the last attempt (a timeout).
func (n *Node) storeOne(ctx context.Context, addr netip.AddrPort, q string, args krpc.Args,
	retryAfter time.Duration, confirm confirmFunc) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, 2)
	send := func() {
		a := args
		_, err := n.query(ctx, addr, q, &a)
		results <- err
	}
	go send()
	fire := make(chan struct{})
	timer := n.cfg.Clock.AfterFunc(retryAfter, func() { close(fire) })
	defer timer.Stop()
	retry := fire
	pending, msgs, retried := 1, 1, false
	var last error
	for pending > 0 {
		select {
		case <-retry:
			retry = nil
			pending, msgs, retried = pending+1, msgs+1, true
			go send()
		case err := <-results:
			pending--
			var kerr *krpc.Error
			switch {
			case err == nil:
				return msgs, nil
			case errors.As(err, &kerr):
				if retried && kerr.Code == bep44.CodeCASMismatch && confirm != nil {
					msgs++
					if confirm(ctx, addr) {
						return msgs, nil
					}
				}
				return msgs, err
			}
			last = err
		}
	}
	return msgs, last
}

// confirmMutable returns a confirmFunc asking, with a get carrying seq-1,
// whether a node holds exactly it (same seq and signature).
func (n *Node) confirmMutable(it bep44.Item) confirmFunc {
	return func(ctx context.Context, addr netip.AddrPort) bool {
		a := krpc.Args{Target: it.Target(), HasTarget: true, Seq: it.Seq - 1, HasSeq: true}
		m, err := n.query(ctx, addr, krpc.MethodGet, &a)
		if err != nil || m.R == nil {
			return false
		}
		r := m.R
		return r.HasSeq && r.Seq == it.Seq && len(r.Sig) == len(it.Sig) && [64]byte(r.Sig) == it.Sig
	}
}
