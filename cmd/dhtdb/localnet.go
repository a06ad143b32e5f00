package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/dhtdb/dhtdb/dht"
)

// maxLocalNodes bounds a local network: each node is a real UDP socket.
const maxLocalNodes = 2000

// joinAttempts is how many times a local node tries to bootstrap.
const joinAttempts = 3

// localNet is a DHT of real UDP nodes on loopback in this process: the
// testnet command and the demo run one.
type localNet struct {
	nodes []*dht.Node
}

// startLocalNet starts n nodes, the first on listen, the others on ephemeral
// ports of the same loopback address, and joins them all through the first.
func startLocalNet(ctx context.Context, n int, listen string, logger *slog.Logger) (*localNet, error) {
	if n < 1 || n > maxLocalNodes {
		return nil, usagef("--nodes %d: want 1 to %d", n, maxLocalNodes)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, usagef("--listen %q: want host:port", listen)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return nil, usagef("--listen %q: a local network runs on a loopback address (127.x.y.z)", listen)
	}
	l := &localNet{}
	for i := range n {
		addr := listen
		if i > 0 {
			addr = net.JoinHostPort(host, "0")
		}
		conn, err := listenUDP(addr)
		if err != nil {
			l.Close()
			return nil, err
		}
		var boot []string
		if i > 0 {
			boot = []string{l.nodes[0].Addr().String()}
		}
		node, err := dht.New(dht.Config{Conn: conn, Bootstrap: boot, Logger: logger.With("node", i)})
		if err != nil {
			conn.Close()
			l.Close()
			return nil, err
		}
		l.nodes = append(l.nodes, node)
	}
	// Everyone joins through node 0; a second round lets the first joiners
	// learn about the later ones, node 0 included.
	for round := range 2 {
		if err := l.bootstrapAll(ctx, round == 0); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// bootstrapAll runs Bootstrap on the nodes, a few at a time. In the first
// round node 0 (which has nobody to join through yet) is skipped.
func (l *localNet) bootstrapAll(ctx context.Context, first bool) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make([]error, len(l.nodes))
	for i, node := range l.nodes {
		if i == 0 && first || len(l.nodes) == 1 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// On a busy machine a first attempt may time out: retry a
			// few times before giving up on the network.
			var err error
			for range joinAttempts {
				if err = node.Bootstrap(ctx); err == nil || ctx.Err() != nil {
					break
				}
			}
			if err != nil && (first || !errors.Is(err, dht.ErrBootstrap)) {
				errs[i] = fmt.Errorf("node %d (%v): %w", i, node.Addr(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// bootstrap is the address to join the network through.
func (l *localNet) bootstrap() string { return l.nodes[0].Addr().String() }

func (l *localNet) addrs() []string {
	out := make([]string, len(l.nodes))
	for i, n := range l.nodes {
		out[i] = n.Addr().String()
	}
	return out
}

// Close stops every node.
func (l *localNet) Close() {
	for _, n := range l.nodes {
		n.Close()
	}
}

// restartAll restarts every node empty on its address (a new id, nothing
// stored), as if each had crashed and come back.
func (l *localNet) restartAll(ctx context.Context, logger *slog.Logger) error {
	addrs := l.addrs()
	for i, n := range l.nodes {
		n.Close()
		conn, err := listenUDP(addrs[i])
		if err != nil {
			return err
		}
		var boot []string
		if i > 0 {
			boot = addrs[:1]
		}
		node, err := dht.New(dht.Config{Conn: conn, Bootstrap: boot, Logger: logger.With("node", i)})
		if err != nil {
			conn.Close()
			return err
		}
		l.nodes[i] = node
	}
	return l.bootstrapAll(ctx, false)
}

// items counts the BEP 44 items the nodes hold.
func (l *localNet) items() int {
	n := 0
	for _, node := range l.nodes {
		n += node.Stats().Items
	}
	return n
}
