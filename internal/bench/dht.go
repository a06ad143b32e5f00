package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Defaults of the DHT benchmark: 2,000 simulated nodes with injected latency and loss.
const (
	DefaultDHTNodes       = 2000
	DefaultDHTSeed        = 1
	DefaultDHTMinRTT      = 40 * time.Millisecond
	DefaultDHTMaxRTT      = 300 * time.Millisecond
	DefaultDHTLoss        = 0.01
	DefaultDHTSilent      = 0.20
	DefaultDHTPuts        = 100
	DefaultDHTGets        = 100
	DefaultDHTConcurrency = 20
	DefaultDHTOpTimeout   = 60 * time.Second
)

// Implementations the benchmark can run.
const (
	ImplOurs      = "ours"
	ImplAnacrolix = "anacrolix"
	// ImplAnacrolixClient is anacrolix's getput run from anacrolix servers
	// that make up one node in clientEvery of a network of our nodes: it
	// measures anacrolix's client side where routing answers are right.
	ImplAnacrolixClient = "anacrolix-client"
)

// DHTConfig describes one benchmark run. Start from DefaultDHTConfig: in the
// zero value, RTTs, loss and silence are literally zero.
type DHTConfig struct {
	Nodes          int           // nodes per network; 0: DefaultDHTNodes
	Seed           int64         // ids, addresses, RTTs, losses, silent set, keys, origins
	MinRTT, MaxRTT time.Duration // round-trip time range of a pair of nodes
	Loss           float64       // packet loss probability
	Silent         float64       // fraction of nodes silenced after the network is built
	Puts, Gets     int           // operations of each kind; 0: defaults
	Concurrency    int           // operations in flight at once; 0: DefaultDHTConcurrency
	OpTimeout      time.Duration // deadline of one operation; 0: DefaultDHTOpTimeout
	// Impls lists what to run, among ImplOurs and ImplAnacrolix; nil: both.
	Impls []string
}

// DefaultDHTConfig returns the default scenario: 2000 nodes, RTT 40-300 ms,
// 1% loss, 20% silent, 100 puts then 100 gets, seed 1.
func DefaultDHTConfig() DHTConfig {
	return DHTConfig{
		Nodes: DefaultDHTNodes, Seed: DefaultDHTSeed,
		MinRTT: DefaultDHTMinRTT, MaxRTT: DefaultDHTMaxRTT,
		Loss: DefaultDHTLoss, Silent: DefaultDHTSilent,
		Puts: DefaultDHTPuts, Gets: DefaultDHTGets,
		Concurrency: DefaultDHTConcurrency, OpTimeout: DefaultDHTOpTimeout,
	}
}

func (c DHTConfig) withDefaults() DHTConfig {
	if c.Nodes == 0 {
		c.Nodes = DefaultDHTNodes
	}
	if c.Puts == 0 {
		c.Puts = DefaultDHTPuts
	}
	if c.Gets == 0 {
		c.Gets = DefaultDHTGets
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultDHTConcurrency
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultDHTOpTimeout
	}
	if c.Impls == nil {
		for _, name := range []string{ImplOurs, ImplAnacrolix, ImplAnacrolixClient} {
			if implementations[name] != nil {
				c.Impls = append(c.Impls, name)
			}
		}
	}
	return c
}

// minDHTNodes keeps a network large enough to have 8 closest live nodes
// besides the operation's origin.
const minDHTNodes = 32

func (c DHTConfig) validate() error {
	switch {
	case c.Nodes < minDHTNodes:
		return fmt.Errorf("nodes %d: need at least %d", c.Nodes, minDHTNodes)
	case c.Nodes > 100000:
		return fmt.Errorf("nodes %d: at most 100000", c.Nodes)
	case c.MinRTT < 0 || c.MaxRTT < c.MinRTT:
		return errors.New("rtt range invalid")
	case !(c.Loss >= 0 && c.Loss < 1):
		return errors.New("loss outside [0, 1)")
	case !(c.Silent >= 0 && c.Silent <= 0.5):
		return errors.New("silent fraction outside [0, 0.5]")
	case c.Puts < 0 || c.Gets < 0 || c.Concurrency < 0 || c.OpTimeout < 0:
		return errors.New("negative count or timeout")
	}
	seen := map[string]bool{}
	for _, impl := range c.Impls {
		if implementations[impl] == nil {
			return fmt.Errorf("unknown implementation %q (have %s, %s, %s)", impl, ImplOurs, ImplAnacrolix, ImplAnacrolixClient)
		}
		if seen[impl] {
			return fmt.Errorf("implementation %q listed twice", impl)
		}
		seen[impl] = true
	}
	return nil
}

// GetStats are the figures of the gets of one network.
type GetStats struct {
	P50ms   float64 `json:"p50_ms"`  // median latency
	P95ms   float64 `json:"p95_ms"`  // 95th percentile latency
	Success float64 `json:"success"` // ratio of gets that returned the put value and seq
	Msgs    float64 `json:"msgs"`    // mean KRPC queries sent by the origin per get
	Ops     int     `json:"ops"`
	MeanMs  float64 `json:"mean_ms"`
}

// PutStats are the figures of the puts of one network.
type PutStats struct {
	P50ms      float64 `json:"p50_ms"`
	P95ms      float64 `json:"p95_ms"`
	Success    float64 `json:"success"`     // ratio of puts held by at least one of the 8 closest live nodes
	StoredMean float64 `json:"stored_mean"` // mean number of the 8 closest live nodes holding the item
	Msgs       float64 `json:"msgs"`
	Ops        int     `json:"ops"`
	MeanMs     float64 `json:"mean_ms"`
	// Reported is the mean of what the put itself reported as stored
	// (ours: PutReport.Stored; -1 when the library reports nothing).
	Reported float64 `json:"reported_mean"`
}

// ImplResult are one network's figures.
type ImplResult struct {
	Get          GetStats `json:"get"`
	Put          PutStats `json:"put"`
	BuildSeconds float64  `json:"build_s"`    // time to create and join all nodes
	TableMean    float64  `json:"table_mean"` // mean routing table size after the build
	Packets      int64    `json:"packets"`    // packets sent on the simulated network during the operations (probe included)
	Error        string   `json:"error,omitempty"`
}

// Ratios compare anacrolix to ours: anacrolix's latency divided by ours, so
// 2 means ours is twice as fast.
type Ratios struct {
	GetP50 float64 `json:"get_p50"`
	GetP95 float64 `json:"get_p95"`
	PutP50 float64 `json:"put_p50"`
	PutP95 float64 `json:"put_p95"`
	// The same for anacrolix clients in a network of our nodes.
	ClientGetP50 float64 `json:"client_get_p50,omitempty"`
	ClientPutP50 float64 `json:"client_put_p50,omitempty"`
}

// DHTResult is the outcome of RunDHT; its JSON form is what
// `dhtdb bench dht --json` prints.
type DHTResult struct {
	Ours      *ImplResult `json:"ours"`
	Anacrolix *ImplResult `json:"anacrolix"`
	// AnacrolixClient: anacrolix clients in a network of our nodes.
	AnacrolixClient *ImplResult `json:"anacrolix_client,omitempty"`
	Nodes           int         `json:"nodes"`
	Seed            int64       `json:"seed"`
	Ratio           *Ratios     `json:"ratio,omitempty"`
	MinRTTms        float64     `json:"rtt_min_ms"`
	MaxRTTms        float64     `json:"rtt_max_ms"`
	Loss            float64     `json:"loss"`
	Silent          float64     `json:"silent"`
	Puts            int         `json:"puts"`
	Gets            int         `json:"gets"`
	Seconds         float64     `json:"seconds"`
}

// RunDHT runs the DHT benchmark and writes progress lines to progress (which
// may be nil). An implementation that fails to run has its Error set; RunDHT
// itself fails only on a bad configuration or a cancelled ctx.
func RunDHT(ctx context.Context, cfg DHTConfig, progress io.Writer) (DHTResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return DHTResult{}, fmt.Errorf("bench dht: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	res := DHTResult{
		Nodes: cfg.Nodes, Seed: cfg.Seed,
		MinRTTms: ms(cfg.MinRTT), MaxRTTms: ms(cfg.MaxRTT),
		Loss: cfg.Loss, Silent: cfg.Silent, Puts: cfg.Puts, Gets: cfg.Gets,
	}
	for _, name := range cfg.Impls {
		r, err := runImpl(ctx, cfg, name, progress)
		if ctx.Err() != nil {
			return res, fmt.Errorf("bench dht: %w", ctx.Err())
		}
		if err != nil {
			r.Error = err.Error()
			fmt.Fprintf(progress, "%s: %v\n", name, err)
		}
		switch name {
		case ImplOurs:
			res.Ours = &r
		case ImplAnacrolix:
			res.Anacrolix = &r
		case ImplAnacrolixClient:
			res.AnacrolixClient = &r
		}
	}
	if o, a := res.Ours, res.Anacrolix; o != nil && a != nil && o.Error == "" && a.Error == "" {
		res.Ratio = &Ratios{
			GetP50: ratio(a.Get.P50ms, o.Get.P50ms), GetP95: ratio(a.Get.P95ms, o.Get.P95ms),
			PutP50: ratio(a.Put.P50ms, o.Put.P50ms), PutP95: ratio(a.Put.P95ms, o.Put.P95ms),
		}
		if c := res.AnacrolixClient; c != nil && c.Error == "" {
			res.Ratio.ClientGetP50 = ratio(c.Get.P50ms, o.Get.P50ms)
			res.Ratio.ClientPutP50 = ratio(c.Put.P50ms, o.Put.P50ms)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
