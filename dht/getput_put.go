package dht

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht/lookup"
	"github.com/dhtdb/dhtdb/krpc"
)

// Put stores it on the closest nodes: one lookup with `get` queries collects
// write tokens, then `put` goes to the (up to 8) closest nodes that gave one,
// in parallel. The report counts acknowledgements, rejections by BEP 44 code
// and nodes that did not answer. A put that no node stored returns the report
// and an error wrapping ErrNotStored (and ErrCASMismatch or ErrSeqTooLow when
// some node refused it for that reason, or ErrNoNodes when the routing table
// had no node to ask). For a mutable item, opts.HasCAS
// asks the nodes to store only over seq opts.CAS.
func (n *Node) Put(ctx context.Context, it bep44.Item, opts PutOptions) (PutReport, error) {
	if err := it.Verify(); err != nil {
		return PutReport{}, fmt.Errorf("put: %w", err)
	}
	if opts.HasCAS && !it.Mutable {
		return PutReport{}, errors.New("put: cas on an immutable item")
	}
	target := it.Target()
	rep := PutReport{Target: target, Rejected: map[int]int{}}
	args := krpc.Args{Target: target, HasTarget: true}
	if it.Mutable {
		// Nodes holding this seq or an older one answer without the value.
		args.Seq, args.HasSeq = it.Seq, true
	}
	tokens := map[netip.AddrPort]writeToken{}
	l, err := n.traverse(ctx, target, krpc.MethodGet, args, n.putSoftTimeout(), func(from lookup.Node, r *krpc.Return, rtt time.Duration) {
		if len(r.Token) > 0 {
			tokens[from.Addr] = writeToken{bytes.Clone(r.Token), rtt}
		}
	})
	if l != nil {
		rep.Msgs = l.Stats().Queries
	}
	if err != nil {
		return rep, fmt.Errorf("put %x: %w", target, err)
	}
	noNodes := rep.Msgs == 0
	targets := tokenHolders(l, tokens)
	put := krpc.Args{V: it.V}
	if it.Mutable {
		put.K, put.Sig, put.Salt = it.K[:], it.Sig[:], it.Salt
		put.Seq, put.HasSeq = it.Seq, true
		put.CAS, put.HasCAS = opts.CAS, opts.HasCAS
	}
	var confirm confirmFunc
	if opts.HasCAS {
		confirm = n.confirmMutable(it)
	}
	sr := n.storeOn(ctx, targets, tokens, krpc.MethodPut, put, confirm)
	rep.Stored, rep.Rejected, rep.TimedOut = sr.stored, sr.rejected, sr.timedOut
	rep.Msgs += sr.msgs
	if rep.Stored == 0 {
		return rep, notStored("put", target, rep.Rejected, len(targets), noNodes)
	}
	return rep, nil
}

// notStored builds the error of a put or announce that no node stored.
func notStored(what string, target [20]byte, rejected map[int]int, tried int, noNodes bool) error {
	format, args := "%s %x: %w", []any{what, target, ErrNotStored}
	if rejected[bep44.CodeCASMismatch] > 0 {
		format, args = format+": %w", append(args, ErrCASMismatch)
	}
	if rejected[bep44.CodeSeqTooLow] > 0 {
		format, args = format+": %w", append(args, ErrSeqTooLow)
	}
	if noNodes {
		format, args = format+": %w", append(args, ErrNoNodes)
	}
	return fmt.Errorf(format+" (asked %d nodes, rejections by code %v)", append(args, tried, rejected)...)
}
