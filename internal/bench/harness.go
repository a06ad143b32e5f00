package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	// start creates a node serving on conn with the given id, which will
	// join the network through boot when its bootstrap method is called.
	start(conn net.PacketConn, id [20]byte, boot []netip.AddrPort, seed uint64) (benchNode, error)
}

// benchNode is one running node, as the harness drives it.
type benchNode interface {
	bootstrap(ctx context.Context) error
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
	ImplAnacrolix: anacrolixImpl{},
}

// Network building (see doc.go).
const (
	seedNodes       = 16 // the first wave, bootstrapping off each other
	bootContacts    = 3  // earlier nodes each later node bootstraps through
	joinConcurrency = 200
	joinTimeout     = 60 * time.Second
	closestK        = 8
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
	net     *simnet.Network
	ids     [][20]byte
	addrs   []netip.AddrPort
	nodes   []benchNode
	queries map[netip.AddrPort]*atomic.Int64 // KRPC queries sent, per node
	silent  []bool
	live    []int // indices of non-silent nodes
}

func runImpl(ctx context.Context, cfg DHTConfig, impl implementation, progress io.Writer) (ImplResult, error) {
	name := implName(impl)
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xd47))
	b := &benchNet{cfg: cfg, queries: make(map[netip.AddrPort]*atomic.Int64, cfg.Nodes)}
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

func implName(impl implementation) string {
	for name, i := range implementations {
		if i == impl {
			return name
		}
	}
	return fmt.Sprintf("%T", impl)
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

// build starts every node and joins them in waves of doubling size.
func (b *benchNet) build(ctx context.Context, impl implementation, rng *rand.Rand, name string, progress io.Writer) error {
	n := b.cfg.Nodes
	for i := 0; i < n; i++ {
		var boot []netip.AddrPort
		if i < seedNodes {
			for j := 0; j < seedNodes && j < n; j++ {
				if j != i {
					boot = append(boot, b.addrs[j])
				}
			}
		} else {
			earlier := waveStart(i)
			for _, j := range rng.Perm(earlier)[:bootContacts] {
				boot = append(boot, b.addrs[j])
			}
		}
		conn, err := b.net.Listen(b.addrs[i])
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		node, err := impl.start(conn, b.ids[i], boot, rng.Uint64())
		if err != nil {
			conn.Close()
			return fmt.Errorf("start node %d: %w", i, err)
		}
		b.nodes = append(b.nodes, node)
	}
	var failed atomic.Int64
	for lo := 0; lo < n; {
		hi := min(n, max(seedNodes, 2*lo))
		parallel(ctx, hi-lo, joinConcurrency, func(k int) {
			jctx, cancel := context.WithTimeout(ctx, joinTimeout)
			defer cancel()
			if err := b.nodes[lo+k].bootstrap(jctx); err != nil {
				failed.Add(1)
			}
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(progress, "%s: joined %d/%d nodes\n", name, hi, n)
		lo = hi
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(progress, "%s: %d nodes reported a failed bootstrap\n", name, f)
	}
	return nil
}

// waveStart is the first node of i's wave: waves are [0,16), [16,32),
// [32,64), ...; a node bootstraps off nodes of earlier waves only.
func waveStart(i int) int {
	lo := 0
	for {
		hi := max(seedNodes, 2*lo)
		if i < hi {
			return lo
		}
		lo = hi
	}
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
