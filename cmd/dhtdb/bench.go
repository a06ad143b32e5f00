package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"github.com/dhtdb/dhtdb/internal/bench"
)

// benchDHTCmd: dhtdb bench dht [--nodes N] [--json]. Lookup latency and
// storage figures on the simulated network, ours and anacrolix/dht side by side.
type benchDHTCmd struct {
	out   output
	cfg   bench.DHTConfig
	impls string
	quiet bool
}

func (c *benchDHTCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	c.cfg = bench.DefaultDHTConfig()
	fs.IntVar(&c.cfg.Nodes, "nodes", c.cfg.Nodes, "nodes of each simulated network")
	fs.Int64Var(&c.cfg.Seed, "seed", c.cfg.Seed, "random seed (ids, RTTs, losses, silent nodes, keys)")
	fs.IntVar(&c.cfg.Puts, "puts", c.cfg.Puts, "puts to measure")
	fs.IntVar(&c.cfg.Gets, "gets", c.cfg.Gets, "gets to measure")
	fs.IntVar(&c.cfg.Concurrency, "concurrency", c.cfg.Concurrency, "operations in flight at once")
	fs.DurationVar(&c.cfg.MinRTT, "min-rtt", c.cfg.MinRTT, "smallest round-trip time of a pair of nodes")
	fs.DurationVar(&c.cfg.MaxRTT, "max-rtt", c.cfg.MaxRTT, "largest round-trip time of a pair of nodes")
	fs.Float64Var(&c.cfg.Loss, "loss", c.cfg.Loss, "packet loss probability")
	fs.Float64Var(&c.cfg.Silent, "silent", c.cfg.Silent, "fraction of silent nodes")
	fs.StringVar(&c.impls, "impl", "", "implementations to run, comma-separated: ours,anacrolix (default: both)")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on stderr")
}

func (c *benchDHTCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	if c.impls != "" {
		c.cfg.Impls = strings.Split(c.impls, ",")
	}
	var progress io.Writer = e.stderr
	if c.quiet {
		progress = nil
	}
	res, err := bench.RunDHT(ctx, c.cfg, progress)
	if err != nil {
		return err
	}
	return c.out.print(e.stdout, res, res.WriteText)
}
