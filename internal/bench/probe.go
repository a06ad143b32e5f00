package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
	"github.com/dhtdb/dhtdb/simnet"
)

// Probe queries: each gets probeTries sends, probeTimeout apart.
const (
	probeTries   = 3
	probeTimeout = 3 * time.Second
)

// prober asks nodes directly, with KRPC `get` queries from a read-only
// endpoint of its own, whether they hold an item. It is how the benchmark
// checks "stored on N of the 8 closest" without trusting the put's report.
type prober struct {
	conn net.PacketConn
	id   [20]byte

	mu      sync.Mutex
	waiting map[uint32]chan *krpc.Msg
	next    atomic.Uint32
	done    chan struct{}
}

func newProber(n *simnet.Network) (*prober, error) {
	conn, err := n.Listen(netip.AddrPort{})
	if err != nil {
		return nil, err
	}
	p := &prober{conn: conn, waiting: make(map[uint32]chan *krpc.Msg), done: make(chan struct{})}
	p.id[0] = 0xb3 // any id: read-only senders are not added to routing tables
	go p.read()
	return p, nil
}

func (p *prober) close() {
	p.conn.Close()
	<-p.done
}

func (p *prober) read() {
	defer close(p.done)
	buf := make([]byte, 2048)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := krpc.Decode(bytes.Clone(buf[:n])) // Decode aliases its input
		if err != nil || len(m.T) != 4 {
			continue
		}
		p.mu.Lock()
		ch := p.waiting[binary.BigEndian.Uint32(m.T)]
		p.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default:
			}
		}
	}
}

// countHolders returns how many of addrs answer a get for it's target with
// it's exact value and seq.
func (p *prober) countHolders(ctx context.Context, addrs []netip.AddrPort, it bep44.Item) int {
	var held atomic.Int64
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.get(ctx, a, it.Target())
			if r != nil && bytes.Equal(r.V, it.V) && r.HasSeq && r.Seq == it.Seq && bytes.Equal(r.K, it.K[:]) {
				held.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(held.Load())
}

// get sends a get query to addr and returns its response body, or nil if
// none came.
func (p *prober) get(ctx context.Context, addr netip.AddrPort, target [20]byte) *krpc.Return {
	tid := p.next.Add(1)
	ch := make(chan *krpc.Msg, 1)
	p.mu.Lock()
	p.waiting[tid] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, tid)
		p.mu.Unlock()
	}()
	msg := krpc.Msg{
		T: binary.BigEndian.AppendUint32(nil, tid), Y: krpc.TypeQuery, Q: krpc.MethodGet, RO: true,
		A: &krpc.Args{ID: p.id, Target: target, HasTarget: true},
	}
	b, err := msg.Encode()
	if err != nil {
		return nil
	}
	to := net.UDPAddrFromAddrPort(addr)
	for try := 0; try < probeTries; try++ {
		if _, err := p.conn.WriteTo(b, to); err != nil {
			return nil
		}
		t := time.NewTimer(probeTimeout)
		select {
		case m := <-ch:
			t.Stop()
			if m.Y == krpc.TypeResponse && m.R != nil {
				return m.R
			}
			return nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
	return nil
}
