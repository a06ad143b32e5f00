package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dhtdb/dhtdb/dht"
)

// dhtNodeCmd: dhtdb dht node [--listen ADDR].
type dhtNodeCmd struct {
	out   output
	net   netFlags
	every time.Duration
}

func (c *dhtNodeCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	c.net.register(fs, "0.0.0.0:6881", "UDP address to serve on")
	fs.DurationVar(&c.every, "stats", 0, "print the node's counters at this interval (0: only at exit)")
}

type nodeEvent struct {
	Event string `json:"event"` // "started", "stats", "stopped"
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	dht.Stats
}

func (c *dhtNodeCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	bootstrap, err := c.net.bootstrapList()
	if err != nil {
		return err
	}
	conn, err := listenUDP(c.net.listenAddr(bootstrap))
	if err != nil {
		return err
	}
	node, err := dht.New(dht.Config{Conn: conn, Bootstrap: bootstrap, Logger: c.net.logger(e)})
	if err != nil {
		conn.Close()
		return err
	}
	defer node.Close()
	id := node.ID()
	emit := func(event string) error {
		ev := nodeEvent{Event: event, ID: hex.EncodeToString(id[:]), Addr: node.Addr().String(), Stats: node.Stats()}
		return c.out.print(e.stdout, ev, func(w io.Writer) {
			fmt.Fprintf(w, "%s: node %s on %s: %d nodes in table, %d items, %d peers, packets in %d out %d\n",
				ev.Event, ev.ID, ev.Addr, ev.Nodes, ev.Items, ev.Peers, ev.PacketsIn, ev.PacketsOut)
		})
	}
	if len(bootstrap) > 0 {
		bctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
		err := node.Bootstrap(bctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// A node keeps serving: others may join through it later.
			fmt.Fprintf(e.stderr, "dhtdb dht node: warning: %s\n", oneLine(err.Error()))
		}
	}
	if err := emit("started"); err != nil {
		return err
	}
	var tick <-chan time.Time
	if c.every > 0 {
		t := time.NewTicker(c.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			if err := emit("stopped"); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case <-tick:
			if err := emit("stats"); err != nil {
				return err
			}
		}
	}
}
