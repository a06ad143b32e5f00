package simnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the receive queue of an endpoint, in packets, when
// Config.QueueLen is zero: about a 256 KiB socket buffer of 1 KiB packets.
const DefaultQueueLen = 256

// MaxPacketSize is the largest payload a conn accepts, as for UDP over IPv4.
const MaxPacketSize = 65507

// Errors returned by Listen and WriteTo.
var (
	ErrAddrInUse   = errors.New("simnet: address already in use")
	ErrNotLoopback = errors.New("simnet: address is not an IPv4 127.0.0.0/8 address")
	ErrNetClosed   = errors.New("simnet: network closed")
	ErrTooBig      = errors.New("simnet: packet too big")
	ErrBadAddr     = errors.New("simnet: bad destination address")
	ErrNoFreeAddr  = errors.New("simnet: no free address")
)

// Config describes a simulated network.
type Config struct {
	// Seed makes RTTs and losses reproducible.
	Seed int64
	// MinRTT and MaxRTT bound the round-trip time of a pair of addresses; each
	// pair's RTT is drawn uniformly from [MinRTT, MaxRTT] by hashing Seed and
	// the two addresses. Zero for both delivers at once.
	MinRTT, MaxRTT time.Duration
	// Loss is the probability, in [0, 1], that a packet is dropped.
	Loss float64
	// QueueLen is each endpoint's receive queue in packets; 0 means
	// DefaultQueueLen. Packets arriving at a full queue are dropped.
	QueueLen int
	// Tap, if set, is called for every packet a conn writes, before loss and
	// silence are applied. It runs in the writer's goroutine, must be fast,
	// and must not retain p. The benchmark uses it to count messages.
	Tap func(from, to netip.AddrPort, p []byte)
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	switch {
	case c.MinRTT < 0 || c.MaxRTT < 0:
		return errors.New("simnet: negative RTT")
	case c.MaxRTT < c.MinRTT:
		return errors.New("simnet: MaxRTT below MinRTT")
	case !(c.Loss >= 0 && c.Loss <= 1):
		return errors.New("simnet: Loss outside [0, 1]")
	case c.QueueLen < 0:
		return errors.New("simnet: negative QueueLen")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	return c
}

// Network is a simulated UDP network. Create one with New; it is safe for
// concurrent use.
type Network struct {
	cfg   Config
	sched *scheduler

	mu      sync.Mutex
	conns   map[netip.AddrPort]*conn
	silent  map[netip.AddrPort]bool
	next    uint32 // next candidate for NewAddr
	lossRng *rand.Rand
	closed  bool

	stats counters
}

// New returns a network with the given configuration. It panics if
// cfg.Validate fails: a bad configuration is a programming error.
func New(cfg Config) *Network {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	s := uint64(cfg.Seed)
	n := &Network{
		cfg:     cfg,
		conns:   make(map[netip.AddrPort]*conn),
		silent:  make(map[netip.AddrPort]bool),
		next:    1<<8 + 1, // 127.0.1.1
		lossRng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)),
	}
	n.sched = newScheduler(n.deliver)
	return n
}

// virtualPort is the port NewAddr hands out: each endpoint gets its own IP.
const virtualPort = 6881

func addrOf(i uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(i >> 16), byte(i >> 8), byte(i)})
}

// NewAddr returns the next free virtual address: a fresh 127.x.y.z IP
// (skipping .0 and .255 in the last byte) with port 6881.
func (n *Network) NewAddr() netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	ap, _ := n.newAddrLocked()
	return ap
}

func (n *Network) newAddrLocked() (netip.AddrPort, error) {
	for ; n.next < 1<<24; n.next++ {
		if b := byte(n.next); b == 0 || b == 255 {
			continue
		}
		ap := netip.AddrPortFrom(addrOf(n.next), virtualPort)
		if _, used := n.conns[ap]; !used {
			n.next++
			return ap, nil
		}
	}
	return netip.AddrPort{}, ErrNoFreeAddr
}

// Listen opens an endpoint at addr. A zero addr picks NewAddr; a zero port
// picks a free port on addr's IP. The IP must be IPv4 in 127.0.0.0/8.
func (n *Network) Listen(addr netip.AddrPort) (net.PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrNetClosed
	}
	switch {
	case !addr.IsValid():
		a, err := n.newAddrLocked()
		if err != nil {
			return nil, err
		}
		addr = a
	case !isVirtual(addr.Addr().Unmap()):
		return nil, fmt.Errorf("listen %v: %w", addr, ErrNotLoopback)
	case addr.Port() == 0:
		ip := addr.Addr().Unmap()
		addr = netip.AddrPort{}
		for p := uint16(49152); p != 0; p++ {
			if _, used := n.conns[netip.AddrPortFrom(ip, p)]; !used {
				addr = netip.AddrPortFrom(ip, p)
				break
			}
		}
		if !addr.IsValid() {
			return nil, fmt.Errorf("listen %v: %w", ip, ErrNoFreeAddr)
		}
	default:
		addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		if _, used := n.conns[addr]; used {
			return nil, fmt.Errorf("listen %v: %w", addr, ErrAddrInUse)
		}
	}
	c := newConn(n, addr)
	n.conns[addr] = c
	return c, nil
}

func isVirtual(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 127 }

// SetSilent makes the endpoint at addr silent (it neither sends nor
// receives) or audible again. It may be called before the endpoint exists.
func (n *Network) SetSilent(addr netip.AddrPort, silent bool) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	if silent {
		n.silent[addr] = true
	} else {
		delete(n.silent, addr)
	}
}

// RTT returns the round-trip time between a and b (symmetric, deterministic).
func (n *Network) RTT(a, b netip.AddrPort) time.Duration {
	span := n.cfg.MaxRTT - n.cfg.MinRTT
	if span <= 0 {
		return n.cfg.MinRTT
	}
	ka, kb := a.Addr().Unmap().As16(), b.Addr().Unmap().As16()
	pa, pb := a.Port(), b.Port()
	if string(ka[:]) > string(kb[:]) || (ka == kb && pa > pb) {
		ka, kb, pa, pb = kb, ka, pb, pa
	}
	var buf [8 + 2*18]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(n.cfg.Seed))
	copy(buf[8:24], ka[:])
	binary.BigEndian.PutUint16(buf[24:26], pa)
	copy(buf[26:42], kb[:])
	binary.BigEndian.PutUint16(buf[42:44], pb)
	h := mix(buf[:])
	return n.cfg.MinRTT + time.Duration(h%(uint64(span)+1))
}

// mix hashes b with FNV-1a and a splitmix64 finalizer: stable across
// processes and Go releases, so a seed names the same topology everywhere.
func mix(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Close closes every endpoint and stops delivery. Packets in flight are
// discarded.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	conns := make([]*conn, 0, len(n.conns))
	for _, c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	n.sched.stop()
	return nil
}

// send is called by a conn's WriteTo with a private copy of the payload.
func (n *Network) send(c *conn, to netip.AddrPort, p []byte) {
	if tap := n.cfg.Tap; tap != nil {
		tap(c.addr, to, p)
	}
	size := int64(len(p))
	n.stats.add(&n.stats.sent, size)
	c.stats.add(&c.stats.sent, size)
	n.mu.Lock()
	silent := n.silent[c.addr]
	lost := !silent && n.cfg.Loss > 0 && n.lossRng.Float64() < n.cfg.Loss
	n.mu.Unlock()
	switch {
	case silent:
		n.drop(&n.stats.droppedSilent, size)
		return
	case lost:
		n.drop(&n.stats.droppedLoss, size)
		return
	}
	n.stats.inFlight.Add(1)
	pk := packet{from: c.addr, to: to, data: p}
	if d := n.RTT(c.addr, to) / 2; d > 0 {
		if !n.sched.push(time.Now().Add(d), pk) { // the network is closing
			n.stats.inFlight.Add(-1)
			n.drop(&n.stats.droppedUnreachable, size)
		}
	} else {
		n.deliver(pk) // no latency: deliver before WriteTo returns
	}
}

// deliver runs in the scheduler goroutine when a packet's delay has passed.
func (n *Network) deliver(pk packet) {
	n.stats.inFlight.Add(-1)
	size := int64(len(pk.data))
	n.mu.Lock()
	dst := n.conns[pk.to]
	silent := n.silent[pk.to]
	n.mu.Unlock()
	switch {
	case silent:
		n.drop(&n.stats.droppedSilent, size)
	case dst == nil:
		n.drop(&n.stats.droppedUnreachable, size)
	case !dst.enqueue(pk):
		n.drop(&n.stats.droppedQueue, size)
	default:
		n.stats.add(&n.stats.delivered, size)
		dst.stats.add(&dst.stats.delivered, size)
	}
}

func (n *Network) drop(reason *pair, size int64) {
	n.stats.add(&n.stats.dropped, size)
	n.stats.add(reason, size)
}

// forget removes a closed conn.
func (n *Network) forget(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[c.addr] == c {
		delete(n.conns, c.addr)
	}
}

// pair counts packets and bytes.
type pair struct{ packets, bytes atomic.Int64 }

type counters struct {
	sent, delivered, dropped                                     pair
	droppedLoss, droppedSilent, droppedQueue, droppedUnreachable pair
	inFlight                                                     atomic.Int64
}

func (c *counters) add(p *pair, size int64) {
	p.packets.Add(1)
	p.bytes.Add(size)
}
