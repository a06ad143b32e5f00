package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/simnet"
)

// implementation starts benchmark nodes of one DHT library.
type implementation interface {
	// start creates node number i, serving on conn with the given id.
	start(i int, conn net.PacketConn, id [20]byte, seed uint64) (benchNode, error)
	// origin reports whether node i may originate the measured operations.
	origin(i int) bool
}

// contact is a node another node is told about.
type contact struct {
	id   [20]byte
	addr netip.AddrPort
}

// benchNode is one running node, as the harness drives it.
type benchNode interface {
	// learn pings the contacts, which puts those that answer in the
	// routing table (and the node in theirs), and returns when done.
	learn(ctx context.Context, contacts []contact)
	// put stores a signed mutable item; reported is how many nodes the
	// library says stored it, or -1 if it does not say.
	put(ctx context.Context, it bep44.Item) (reported int, err error)
	// get looks up the mutable item of pub and salt.
	get(ctx context.Context, pub [32]byte, salt []byte) (v []byte, seq int64, err error)
	tableSize() int
	close()
}

// implementations maps the names of DHTConfig.Impls to their adapters.
var implementations = map[string]implementation{
	ImplOurs:            oursImpl{},
	ImplAnacrolix:       anacrolixImpl{},
	ImplAnacrolixClient: mixedImpl{client: anacrolixImpl{}, network: oursImpl{}, every: clientEvery},
}

// Network building (see doc.go).
const (
	bucketK          = 8 // contacts per shared-prefix length
	joinConcurrency  = 500
	learnConcurrency = 16 // pings in flight per node while it learns
	joinTimeout      = 60 * time.Second
	closestK         = 8
)

// queryMarker is in every bencoded KRPC query (`y` = `q`) and in no response.
var queryMarker = []byte("1:y1:q")

// opRecord is the outcome of one operation.
type opRecord struct {
	dur      time.Duration
	ok       bool
	msgs     int64
	stored   int // puts: of the 8 closest live nodes, how many hold the item
	reported int // puts: what the library reported
}

// benchNet is one simulated network of one implementation.
type benchNet struct {
	cfg     DHTConfig
	impl    implementation
	net     *simnet.Network
	ids     [][20]byte
	addrs   []netip.AddrPort
	nodes   []benchNode
	queries map[netip.AddrPort]*atomic.Int64 // KRPC queries sent, per node
	silent  []bool
	live    []int // indices of non-silent nodes
}

func runImpl(ctx context.Context, cfg DHTConfig, name string, progress io.Writer) (ImplResult, error) {
	impl := implementations[name]
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xd47))
	b := &benchNet{cfg: cfg, impl: impl, queries: make(map[netip.AddrPort]*atomic.Int64, cfg.Nodes)}
	b.net = simnet.New(simnet.Config{
		Seed: cfg.Seed, MinRTT: cfg.MinRTT, MaxRTT: cfg.MaxRTT, Loss: cfg.Loss,
		Tap: b.tap,
	})
	defer b.net.Close()
	defer b.closeNodes()

	for i := 0; i < cfg.Nodes; i++ {
		var id [20]byte
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		b.ids = append(b.ids, id)
		a := b.net.NewAddr()
		b.addrs = append(b.addrs, a)
		b.queries[a] = new(atomic.Int64)
	}

	start := time.Now()
	if err := b.build(ctx, impl, rng, name, progress); err != nil {
		return ImplResult{}, err
	}
	var res ImplResult
	res.BuildSeconds = time.Since(start).Seconds()
	total := 0
	for _, n := range b.nodes {
		total += n.tableSize()
	}
	res.TableMean = float64(total) / float64(len(b.nodes))
	fmt.Fprintf(progress, "%s: %d nodes joined in %.1fs, mean routing table %.1f\n",
		name, cfg.Nodes, res.BuildSeconds, res.TableMean)

	b.silence(rng)
	pr, err := newProber(b.net)
	if err != nil {
		return res, err
	}
	defer pr.close()
	before := b.net.Stats().Sent
	puts, gets := b.runOps(ctx, rng, pr, name, progress)
	res.Packets = b.net.Stats().Sent - before
	res.Put = putStats(puts)
	res.Get = getStats(gets)
	return res, ctx.Err()
}

func (b *benchNet) tap(from, _ netip.AddrPort, p []byte) {
	if c := b.queries[from]; c != nil && bytes.Contains(p, queryMarker) {
		c.Add(1)
	}
}

func (b *benchNet) closeNodes() {
	for _, n := range b.nodes {
		n.close()
	}
}

// build starts every node and fills its routing table (see doc.go).
func (b *benchNet) build(ctx context.Context, impl implementation, rng *rand.Rand, name string, progress io.Writer) error {
	n := b.cfg.Nodes
	for i := 0; i < n; i++ {
		conn, err := b.net.Listen(b.addrs[i])
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		node, err := impl.start(i, conn, b.ids[i], rng.Uint64())
		if err != nil {
			conn.Close()
			return fmt.Errorf("start node %d: %w", i, err)
		}
		b.nodes = append(b.nodes, node)
	}
	contacts := make([][]contact, n)
	for i := range contacts {
		contacts[i] = b.contacts(i, rng)
	}
	var done atomic.Int64
	parallel(ctx, n, joinConcurrency, func(i int) {
		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		defer cancel()
		b.nodes[i].learn(jctx, contacts[i])
		if d := done.Add(1); d%500 == 0 {
			fmt.Fprintf(progress, "%s: %d/%d routing tables filled\n", name, d, n)
		}
	})
	return ctx.Err()
}

// contacts picks, for node i, up to bucketK random other nodes for every
// length of the id prefix they share with i: what a Kademlia routing table
// of a node that has been in the network for a while holds.
func (b *benchNet) contacts(i int, rng *rand.Rand) []contact {
	var byPrefix [161][]int
	for j := range b.ids {
		if j != i {
			p := commonPrefix(b.ids[i], b.ids[j])
			byPrefix[p] = append(byPrefix[p], j)
		}
	}
	var out []contact
	for _, cand := range byPrefix {
		rng.Shuffle(len(cand), func(x, y int) { cand[x], cand[y] = cand[y], cand[x] })
		for _, j := range cand[:min(bucketK, len(cand))] {
			out = append(out, contact{id: b.ids[j], addr: b.addrs[j]})
		}
	}
	return out
}

// commonPrefix is the number of leading bits a and b share.
func commonPrefix(a, b [20]byte) int {
	for k := range a {
		if x := a[k] ^ b[k]; x != 0 {
			return 8*k + bits.LeadingZeros8(x)
		}
	}
	return 160
}

// silence makes cfg.Silent of the nodes silent and lists the others.
func (b *benchNet) silence(rng *rand.Rand) {
	n := len(b.nodes)
	b.silent = make([]bool, n)
	k := int(b.cfg.Silent*float64(n) + 0.5)
	for _, i := range rng.Perm(n)[:k] {
		b.silent[i] = true
		b.net.SetSilent(b.addrs[i], true)
	}
	for i := range b.nodes {
		if !b.silent[i] {
			b.live = append(b.live, i)
		}
	}
}

// parallel calls f(0..n-1) with at most limit calls at once.
func parallel(ctx context.Context, n, limit int, f func(int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
