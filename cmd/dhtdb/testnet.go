package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DefaultTestnetNodes is the size of a testnet when --nodes is not given.
const DefaultTestnetNodes = 20

// testnetCmd: dhtdb testnet --nodes N [--listen ADDR].
type testnetCmd struct {
	out     output
	nodes   int
	listen  string
	verbose bool
}

func (c *testnetCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	fs.IntVar(&c.nodes, "nodes", DefaultTestnetNodes, "number of DHT nodes")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "address of the first node, the bootstrap (loopback; the others take ephemeral ports)")
	fs.BoolVar(&c.verbose, "v", false, "log the nodes' debug messages to stderr")
}

type testnetResult struct {
	Bootstrap string   `json:"bootstrap"`
	Nodes     int      `json:"nodes"`
	Addrs     []string `json:"addrs"`
	Ms        float64  `json:"ms"`
}

func (c *testnetCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	start := time.Now()
	lnet, err := startLocalNet(ctx, c.nodes, c.listen, logger)
	if err != nil {
		return err
	}
	defer lnet.Close()
	res := testnetResult{Bootstrap: lnet.bootstrap(), Nodes: c.nodes, Addrs: lnet.addrs(), Ms: ms(time.Since(start))}
	err = c.out.print(e.stdout, res, func(w io.Writer) {
		fmt.Fprintf(w, "bootstrap %s\n", res.Bootstrap)
		fmt.Fprintf(e.stderr, "testnet: %d DHT nodes on %s, joined in %.0f ms; use --bootstrap %s; Ctrl-C stops\n",
			res.Nodes, res.Bootstrap, res.Ms, res.Bootstrap)
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
