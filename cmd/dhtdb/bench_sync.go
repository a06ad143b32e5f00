package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dhtdb/dhtdb/internal/bench"
	"github.com/dhtdb/dhtdb/internal/propagate"
)

// benchSyncCmd: dhtdb bench sync: snapshot transfer and delta figures on
// loopback, ours and libtorrent's.
type benchSyncCmd struct {
	out          output
	sizeMiB      int64
	deltaSizeMiB int64
	rows         string
	noLibtorrent bool
	inProcess    bool
	seed         uint64
	quiet        bool
}

func (c *benchSyncCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	fs.Int64Var(&c.sizeMiB, "size", bench.DefaultSyncSize>>20, "database size of the full transfer, MiB")
	fs.Int64Var(&c.deltaSizeMiB, "delta-size", bench.DefaultSyncDeltaSize>>20, "database size of the delta runs, MiB")
	fs.StringVar(&c.rows, "rows", "1,1000", "rows changed between versions, one delta run each (comma-separated)")
	fs.BoolVar(&c.noLibtorrent, "no-libtorrent", false, "skip the libtorrent comparison")
	fs.BoolVar(&c.inProcess, "in-process", false, "fetch in this process (no peak RSS figure)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the random rows")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on stderr")
}

func (c *benchSyncCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	cfg := bench.SyncConfig{Size: c.sizeMiB << 20, DeltaSize: c.deltaSizeMiB << 20, NoLibtorrent: c.noLibtorrent,
		InProcess: c.inProcess, Seed: c.seed}
	for _, f := range strings.Split(c.rows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return usagef("--rows %q: want numbers separated by commas", c.rows)
		}
		cfg.DeltaRows = append(cfg.DeltaRows, n)
	}
	var progress io.Writer = e.stderr
	if c.quiet {
		progress = nil
	}
	res, err := bench.RunSync(ctx, cfg, progress)
	if err != nil {
		return err
	}
	return c.out.print(e.stdout, res, res.WriteText)
}

// benchPropagateCmd: dhtdb bench propagate: time from a writer's commit to
// every reader holding the new version, and the cost of an idle poll.
type benchPropagateCmd struct {
	out   output
	cfg   propagate.Config
	quiet bool
}

func (c *benchPropagateCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	fs.IntVar(&c.cfg.Readers, "readers", propagate.DefaultReaders, "reader daemons")
	fs.IntVar(&c.cfg.Versions, "versions", propagate.DefaultVersions, "versions published and measured")
	fs.DurationVar(&c.cfg.PollInterval, "poll", propagate.DefaultPollInterval, "the readers' poll interval")
	fs.IntVar(&c.cfg.DHTNodes, "dht-nodes", propagate.DefaultDHTNodes, "plain DHT nodes of the loopback network")
	fs.IntVar(&c.cfg.Rows, "rows", propagate.DefaultRows, "rows inserted per version")
	fs.DurationVar(&c.cfg.Timeout, "timeout", propagate.DefaultTimeout, "longest wait for one version to reach every reader")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on stderr")
}

func (c *benchPropagateCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	cfg := c.cfg
	if !c.quiet {
		cfg.Progress = func(s string) { fmt.Fprintln(e.stderr, s) }
	}
	res, err := propagate.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return c.out.print(e.stdout, res, func(w io.Writer) {
		fmt.Fprintf(w, "propagation to %d readers over %d versions (poll every %.0f ms): p50 %.0f ms, max %.0f ms\n",
			res.Readers, res.Versions, res.PollIntervalMs, res.P50Ms, res.MaxMs)
		fmt.Fprintf(w, "idle poll: %.0f bytes, %.1f packets per reader; keep-alive re-puts per idle poll %.2f\n",
			res.IdlePollBytes, res.IdlePollPackets, res.IdlePutsPerPoll)
		fmt.Fprintf(w, "database %d bytes; downloaded per version %.0f bytes (delta sync)\n", res.DBBytes, res.DownloadedPerVersion)
	})
}
