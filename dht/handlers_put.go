package dht

import (
	"errors"
	"net/netip"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// putError is a put rejected with a KRPC/BEP 44 error code.
type putError struct {
	code int
	msg  string
}

// parsePut validates the arguments of a put and builds the verified item.
// It checks, in libtorrent's order: required fields (203), the value's size
// (205), the salt's size (207), the key and signature lengths (203), the
// token (203, tokenOK tells whether it is valid for the sender) and last the
// signature (206), so that no signature is checked for a sender without a
// token. Pure.
func parsePut(a *krpc.Args, tokenOK func([]byte) bool) (bep44.Item, *putError) {
	if a.V == nil {
		return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: put without v"}
	}
	if a.Token == nil {
		return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: put without token"}
	}
	if len(a.V) > bep44.MaxValueSize {
		return bep44.Item{}, &putError{bep44.CodeTooBig, "message (v field) too big"}
	}
	it := bep44.Item{V: a.V}
	if a.K != nil || a.Sig != nil {
		if len(a.Salt) > bep44.MaxSaltSize {
			return bep44.Item{}, &putError{bep44.CodeSaltTooBig, "salt (salt field) too big"}
		}
		if len(a.K) != 32 || len(a.Sig) != 64 || !a.HasSeq {
			return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: mutable put needs 32-byte k, 64-byte sig and seq"}
		}
		it.Mutable = true
		it.K = [32]byte(a.K)
		it.Sig = [64]byte(a.Sig)
		it.Salt = a.Salt
		it.Seq = a.Seq
	}
	if !tokenOK(a.Token) {
		return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: invalid token"}
	}
	if err := it.Verify(); err != nil {
		code := bep44.Code(err)
		switch {
		case code == bep44.CodeBadSignature:
			return bep44.Item{}, &putError{code, "invalid signature"}
		case code != 0:
			return bep44.Item{}, &putError{code, err.Error()}
		case errors.Is(err, bep44.ErrBadValue):
			return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: v is not valid bencode"}
		}
		return bep44.Item{}, &putError{krpc.CodeProtocol, "Protocol Error: " + err.Error()}
	}
	return it, nil
}

// handlePut answers a put query (called without n.mu held).
func (n *Node) handlePut(from netip.AddrPort, m *krpc.Msg) *krpc.Msg {
	now := n.clock.Now()
	// The token master secret never changes after New: no lock needed.
	it, perr := parsePut(m.A, func(tok []byte) bool { return n.tokens.valid(tok, from.Addr(), now) })
	n.mu.Lock()
	self := n.id
	n.noteQuerierLocked(from, m)
	if perr == nil {
		if code, msg := n.store.put(it, m.A.CAS, m.A.HasCAS && it.Mutable, now); code != 0 {
			perr = &putError{code, msg}
		}
	}
	n.mu.Unlock()
	if perr != nil {
		n.stats.putsRejected.Add(1)
		return errorReply(m.T, perr.code, perr.msg)
	}
	n.stats.itemsStored.Add(1)
	return &krpc.Msg{T: m.T, Y: krpc.TypeResponse, R: &krpc.Return{ID: self}, IP: from}
}
