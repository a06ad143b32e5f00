package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Defaults of the demo: the size of its local DHT and its readers.
const (
	DefaultDemoNodes   = 20
	DefaultDemoReaders = 3
)

// demoCmd: dhtdb demo. A local network in one process, on loopback only,
// and a scripted story told with timings. The story is a list of steps
// (demo_steps.go); later parts of dhtdb add theirs to it.
type demoCmd struct {
	out     output
	nodes   int
	readers int
	verbose bool
	keep    bool
}

func (c *demoCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	fs.IntVar(&c.nodes, "nodes", DefaultDemoNodes, "DHT nodes of the local network")
	fs.IntVar(&c.readers, "readers", DefaultDemoReaders, "reader daemons (one more joins later)")
	fs.BoolVar(&c.verbose, "v", false, "log the nodes' debug messages to stderr")
	fs.BoolVar(&c.keep, "keep", false, "keep the demo's working directory (it is printed)")
}

// demoStep is one line of the story: a name and what it does to the state.
// It returns a one-line account and, for --json, the figures behind it.
type demoStep struct {
	name string
	run  func(ctx context.Context, s *demoState) (string, map[string]any, error)
}

// demoEvent is what the demo prints for a step.
type demoEvent struct {
	Step    string         `json:"step"`
	Ms      float64        `json:"ms"`
	TotalMs float64        `json:"total_ms"`
	Detail  string         `json:"detail"`
	Data    map[string]any `json:"data,omitempty"`
}

func (c *demoCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	if c.nodes < 10 {
		return usagef("--nodes %d: the demo needs at least 10", c.nodes)
	}
	if c.readers < 1 || c.readers > 20 {
		return usagef("--readers %d: want 1 to 20", c.readers)
	}
	dir, err := os.MkdirTemp("", "dhtdb-demo-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := &demoState{dir: dir, nodes: c.nodes, readers: c.readers, logger: logger}
	defer s.close()
	start := time.Now()
	for _, st := range demoSteps() {
		t0 := time.Now()
		detail, data, err := st.run(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		ev := demoEvent{Step: st.name, Ms: ms(time.Since(t0)), TotalMs: ms(time.Since(start)), Detail: detail, Data: data}
		if err := c.out.print(e.stdout, ev, func(w io.Writer) {
			fmt.Fprintf(w, "[%6.0f ms] %-13s %s\n", ev.Ms, ev.Step, ev.Detail)
		}); err != nil {
			return err
		}
	}
	if !c.out.json {
		fmt.Fprintf(e.stdout, "demo complete in %.1f s, all on loopback", time.Since(start).Seconds())
		if c.keep {
			fmt.Fprintf(e.stdout, "; files in %s", dir)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
