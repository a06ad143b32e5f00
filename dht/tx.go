package dht

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/krpc"
)

// pendingTx is one query of ours waiting for its answer.
type pendingTx struct {
	addr  netip.AddrPort
	once  sync.Once
	ch    chan txResult // capacity 1
	timer clock.Timer
}

type txResult struct {
	msg     *krpc.Msg
	err     error
	timeout bool
}

func (p *pendingTx) finish(r txResult) { p.once.Do(func() { p.ch <- r }) }

func txKey(t []byte) (uint16, bool) {
	if len(t) != 2 {
		return 0, false
	}
	return uint16(t[0])<<8 | uint16(t[1]), true
}

// query sends one query q with arguments a to addr and waits for the
// answer, the hard timeout (Config.QueryTimeout) or the end of ctx,
// whichever comes first. a.ID is set to our id; the caller's other fields
// are sent as they are.
//
// It returns the response message (R set) and a nil error; or, for a KRPC
// error reply, the message (E set) and the *krpc.Error; or an error wrapping
// ErrTimeout, ctx.Err() or ErrClosed. The routing table is fed: an answer
// (response or error) marks the node alive, a timeout counts as a failure
// (evicting the node after Config.MaxFails in a row), a cancellation counts
// for nothing. The returned message does not alias any buffer.
func (n *Node) query(ctx context.Context, addr netip.AddrPort, q string, a *krpc.Args) (*krpc.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("query %s: invalid address %v", q, addr)
	}
	p := &pendingTx{addr: addr, ch: make(chan txResult, 1)}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if n.txs == nil {
		n.txs = make(map[uint16]*pendingTx)
	}
	a.ID = n.id
	var key uint16
	for {
		key = uint16(n.rand.Uint32())
		if n.txs[key] == nil {
			break
		}
	}
	m := &krpc.Msg{T: []byte{byte(key >> 8), byte(key)}, Y: krpc.TypeQuery, Q: q, A: a, RO: n.cfg.ReadOnly}
	b, err := m.Encode()
	if err != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	n.txs[key] = p
	p.timer = n.clock.AfterFunc(n.cfg.QueryTimeout, func() { n.timeoutTx(key, p) })
	n.mu.Unlock()

	n.stats.queriesOut.Add(1)
	if err := n.write(b, addr); err != nil {
		p.timer.Stop()
		n.dropTx(key, p)
		return nil, fmt.Errorf("query %s to %v: %w", q, addr, err)
	}
	select {
	case r := <-p.ch:
		if r.timeout {
			return nil, fmt.Errorf("query %s to %v: %w", q, addr, r.err)
		}
		if r.err != nil {
			return r.msg, r.err
		}
		return r.msg, nil
	case <-ctx.Done():
		p.timer.Stop()
		n.dropTx(key, p)
		return nil, ctx.Err()
	}
}

func (n *Node) dropTx(key uint16, p *pendingTx) {
	n.mu.Lock()
	if n.txs[key] == p {
		delete(n.txs, key)
	}
	n.mu.Unlock()
}

func (n *Node) timeoutTx(key uint16, p *pendingTx) {
	n.mu.Lock()
	if n.txs[key] != p {
		n.mu.Unlock()
		return
	}
	delete(n.txs, key)
	n.table.failed(p.addr)
	n.mu.Unlock()
	n.stats.timeouts.Add(1)
	p.finish(txResult{err: ErrTimeout, timeout: true})
}

// handleReply matches a response or error to its pending query (by
// transaction id and source address) and delivers it.
func (n *Node) handleReply(from netip.AddrPort, m *krpc.Msg, pkt []byte) {
	key, ok := txKey(m.T)
	if !ok {
		return
	}
	n.mu.Lock()
	p := n.txs[key]
	if p == nil || p.addr != from {
		n.mu.Unlock()
		return
	}
	delete(n.txs, key)
	if m.IP.IsValid() {
		n.voteExternalLocked(from.Addr(), m.IP.Addr())
	}
	if m.R != nil {
		if m.R.ID != n.id {
			n.seenLocked(m.R.ID, from, true)
		}
	} else if e := n.table.byAddr[from]; e != nil {
		e.lastSeen, e.fails = n.clock.Now(), 0
	}
	timer := p.timer
	n.mu.Unlock()
	timer.Stop()
	// The message aliases the read buffer: hand out a private copy.
	own, err := krpc.Decode(bytes.Clone(pkt))
	if err != nil {
		own = m // cannot happen: pkt decoded once already
	}
	if own.E != nil {
		p.finish(txResult{msg: own, err: own.E})
		return
	}
	p.finish(txResult{msg: own})
}
