// Package dhttest starts small networks of real dht nodes on loopback UDP
// for the tests of the packages built on the DHT (torrentdht, swarm).
package dhttest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/dht"
)

// Loopback starts count dht nodes on 127.0.0.1, each joined through the
// first, with a query timeout generous enough for a loaded machine. The
// nodes are closed when the test ends.
func Loopback(t testing.TB, count int) []*dht.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var nodes []*dht.Node
	for i := range count {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		cfg := dht.Config{Conn: conn, QueryTimeout: 3 * time.Second}
		if i > 0 {
			cfg.Bootstrap = []string{nodes[0].Addr().String()}
		}
		n, err := dht.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if i > 0 {
			if err := n.Bootstrap(ctx); err != nil {
				t.Fatalf("bootstrap: %v", err)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}
