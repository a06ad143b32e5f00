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

// Errors of the client side of BEP 44.
var (
	// ErrNotFound: no node of the lookup returned a valid item (for a mutable
	// get, none with seq >= MinSeq).
	ErrNotFound = errors.New("dht: item not found")
	// ErrNotStored is returned, wrapped, with the report of a put that no
	// node acknowledged.
	ErrNotStored = errors.New("dht: no node stored the item")
	// ErrCASMismatch is wrapped too when some nodes refused a put that no
	// node stored because its cas differed from their seq (BEP 44 code 301).
	ErrCASMismatch = errors.New("dht: cas mismatch")
	// ErrSeqTooLow is wrapped too when some nodes refused a put that no node
	// stored because they hold a higher seq (BEP 44 code 302).
	ErrSeqTooLow = errors.New("dht: seq lower than stored")
	// ErrNoNodes is wrapped too when a lookup had no node to ask: the
	// routing table is empty (not bootstrapped, or cut off).
	ErrNoNodes = errors.New("dht: no nodes to ask")
)

// GetRequest names the item a Get looks up.
type GetRequest struct {
	Target    [20]byte // immutable get (when PublicKey is nil)
	PublicKey []byte   // 32 bytes: mutable get
	Salt      []byte
	// MinSeq (mutable): only values with seq >= MinSeq count. It is sent as
	// `seq` in the get, so a node holding exactly MinSeq answers without the
	// value (BEP 44): set it to the seq of the item the caller already holds.
	MinSeq int64
}

// GetResult is the answer of a Get.
//
// When the newest seq found equals MinSeq and no node sent that value
// (nodes answer a get carrying `seq` without `v` unless they hold a newer
// one), Item has Mutable, K, Salt and Seq set but no V and no Sig: the
// caller already holds that item.
type GetResult struct {
	Item    bep44.Item // verified
	Found   int        // how many of the closest responding nodes returned this exact item
	Closest int        // how many of the k closest nodes answered
	Msgs    int        // queries sent
}

// PutOptions are the options of a mutable Put.
type PutOptions struct {
	CAS    int64 // with HasCAS: store only where the current seq is CAS
	HasCAS bool
}

// PutReport says what a Put achieved.
type PutReport struct {
	Target   [20]byte
	Stored   int         // nodes that acknowledged the put (of the up to 8 closest)
	Rejected map[int]int // error code -> count
	TimedOut int
	Msgs     int
}

// getRequest is a validated GetRequest.
type getRequest struct {
	target  [20]byte
	mutable bool
	key     [32]byte
	salt    []byte
	minSeq  int64
}

func (req GetRequest) validate() (getRequest, error) {
	if req.PublicKey == nil {
		return getRequest{target: req.Target}, nil
	}
	g := getRequest{mutable: true, salt: req.Salt, minSeq: req.MinSeq}
	if len(req.PublicKey) != 32 {
		return g, fmt.Errorf("%w: public key of %d bytes", bep44.ErrBadKey, len(req.PublicKey))
	}
	if len(req.Salt) > bep44.MaxSaltSize {
		return g, fmt.Errorf("%w: %d bytes", bep44.ErrSaltTooBig, len(req.Salt))
	}
	copy(g.key[:], req.PublicKey)
	g.target = bep44.MutableTarget(g.key, req.Salt)
	return g, nil
}

// getAnswer is what one node returned: a verified item, or (hasValue false)
// only the claim that it holds seq == MinSeq.
type getAnswer struct {
	item     bep44.Item
	hasValue bool
}

// check verifies one node's answer. It returns false for an answer without
// a usable value and for every forged one (wrong hash, key, signature, or a
// seq below MinSeq).
func (g getRequest) check(r *krpc.Return) (getAnswer, bool) {
	if !g.mutable {
		if r.V == nil || bep44.ImmutableTarget(r.V) != g.target {
			return getAnswer{}, false
		}
		it, err := bep44.NewImmutable(r.V)
		return getAnswer{item: it, hasValue: true}, err == nil
	}
	if r.V == nil {
		// A node answering a get that carried seq: it holds exactly MinSeq.
		ok := g.minSeq > 0 && r.HasSeq && r.Seq == g.minSeq
		return getAnswer{item: bep44.Item{Mutable: true, K: g.key, Salt: bytes.Clone(g.salt), Seq: r.Seq}}, ok
	}
	if !r.HasSeq || r.Seq < g.minSeq || len(r.Sig) != 64 || !bytes.Equal(r.K, g.key[:]) {
		return getAnswer{}, false
	}
	it := bep44.Item{V: bytes.Clone(r.V), Mutable: true, K: g.key, Salt: bytes.Clone(g.salt), Seq: r.Seq}
	copy(it.Sig[:], r.Sig)
	return getAnswer{item: it, hasValue: true}, it.Verify() == nil
}

// Get looks up an item: immutable by target, mutable by key and salt. Every
// value is verified (hash or signature, key, seq >= MinSeq) and forged ones
// are discarded. It returns the highest seq any node returned, as soon as
// the k closest responsive nodes have answered (it does not wait for slow
// nodes once that is settled). Two different values at the same seq (a
// split after two racing puts) are decided deterministically: the one more
// of the k closest nodes hold, then the smaller signature, then the smaller
// value. Found counts the k closest nodes that returned the winning item,
// including those that, asked with MinSeq, answered they hold that seq.
// If ctx ends first, the error is ctx's and the result holds the best item
// found so far, if any (Item.V nil and Found 0 otherwise).
func (n *Node) Get(ctx context.Context, req GetRequest) (GetResult, error) {
	g, err := req.validate()
	if err != nil {
		return GetResult{}, fmt.Errorf("get: %w", err)
	}
	args := krpc.Args{Target: g.target, HasTarget: true}
	if g.mutable && g.minSeq > 0 {
		args.Seq, args.HasSeq = g.minSeq, true
	}
	answers := map[netip.AddrPort]getAnswer{}
	l, err := n.traverse(ctx, g.target, krpc.MethodGet, args, n.softTimeout(), func(from lookup.Node, r *krpc.Return, _ time.Duration) {
		if ans, ok := g.check(r); ok {
			answers[from.Addr] = ans
		}
	})
	if l == nil {
		return GetResult{}, fmt.Errorf("get %x: %w", g.target, err)
	}
	res := GetResult{Closest: len(l.Closest()), Msgs: l.Stats().Queries}
	closest := map[netip.AddrPort]bool{}
	for _, nd := range l.Closest() {
		closest[nd.Addr] = true
	}
	item, found, ok := pickItem(answers, closest)
	if ok {
		res.Item, res.Found = item, found
	}
	switch {
	case err != nil:
		return res, fmt.Errorf("get %x: %w", g.target, err)
	case !ok && res.Msgs == 0:
		return res, fmt.Errorf("get %x: %w: %w", g.target, ErrNotFound, ErrNoNodes)
	case !ok:
		return res, fmt.Errorf("get %x: %w", g.target, ErrNotFound)
	}
	return res, nil
}

// pickItem chooses the answer of a get (see Get) and counts the closest
// nodes holding it.
func pickItem(answers map[netip.AddrPort]getAnswer, closest map[netip.AddrPort]bool) (bep44.Item, int, bool) {
	if len(answers) == 0 {
		return bep44.Item{}, 0, false
	}
	var best getAnswer
	bestHolders := -1
	first := true
	holders := func(x getAnswer) int {
		c := 0
		for addr, a := range answers {
			if closest[addr] && sameItem(a, x) {
				c++
			}
		}
		return c
	}
	for _, a := range answers {
		h := holders(a)
		if first || better(a, h, best, bestHolders) {
			best, bestHolders, first = a, h, false
		}
	}
	// Nodes that only claimed the winning seq hold it too.
	found := 0
	for addr, a := range answers {
		if closest[addr] && a.item.Seq == best.item.Seq && (sameItem(a, best) || !a.hasValue || !best.hasValue) {
			found++
		}
	}
	return best.item, found, true
}

// sameItem reports whether two answers are the same value with the same
// signature (a claim without value is only the same as another claim).
func sameItem(a, b getAnswer) bool {
	return a.hasValue == b.hasValue && a.item.Seq == b.item.Seq &&
		bytes.Equal(a.item.V, b.item.V) && a.item.Sig == b.item.Sig
}

// better reports whether answer a (held by ah closest nodes) beats b.
func better(a getAnswer, ah int, b getAnswer, bh int) bool {
	if a.item.Seq != b.item.Seq {
		return a.item.Seq > b.item.Seq
	}
	if a.hasValue != b.hasValue {
		return a.hasValue // a verified value beats a bare claim of the same seq
	}
	if ah != bh {
		return ah > bh
	}
	if c := bytes.Compare(a.item.Sig[:], b.item.Sig[:]); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.item.V, b.item.V) < 0
}
