package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/dhtdb/dhtdb/dht"
)

// defaultBootstrap are the public Mainline routers (docs/PROTOCOL.md §9): the
// default of a user's own commands only. Tests, testnet and demo never use it.
const defaultBootstrap = "router.bittorrent.com:6881,dht.transmissionbt.com:6881,router.utorrent.com:6881,dht.libtorrent.org:25401"

// DefaultTimeout bounds a one-shot DHT operation (bootstrap and lookup).
const DefaultTimeout = 60 * time.Second

// netFlags are the flags of commands that join the DHT.
type netFlags struct {
	bootstrap string
	listen    string
	verbose   bool
}

func (f *netFlags) register(fs *flag.FlagSet, listenDefault, listenHelp string) {
	fs.StringVar(&f.bootstrap, "bootstrap", defaultBootstrap, "DHT nodes to join through, host:port,... (empty: none)")
	fs.StringVar(&f.listen, "listen", listenDefault, listenHelp)
	fs.BoolVar(&f.verbose, "v", false, "log the DHT node's debug messages to stderr")
}

// bootstrapList splits and checks --bootstrap.
func (f *netFlags) bootstrapList() ([]string, error) {
	var out []string
	for _, hp := range strings.Split(f.bootstrap, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return nil, usagef("--bootstrap %q: want host:port", hp)
		}
		out = append(out, hp)
	}
	return out, nil
}

// listenAddr returns --listen, or when it is empty an ephemeral port on
// loopback if every bootstrap node is a loopback address, else on all
// interfaces.
func (f *netFlags) listenAddr(bootstrap []string) string {
	if f.listen != "" {
		return f.listen
	}
	for _, hp := range bootstrap {
		ap, err := netip.ParseAddrPort(hp)
		if err != nil || !ap.Addr().IsLoopback() {
			return "0.0.0.0:0"
		}
	}
	if len(bootstrap) == 0 {
		return "0.0.0.0:0"
	}
	return "127.0.0.1:0"
}

func (f *netFlags) logger(e *env) *slog.Logger {
	if !f.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// listenUDP opens the UDP socket of a node: udp4 unless addr is an IPv6
// literal (a dual-stack socket would report IPv4 peers as ::ffff: addresses).
func listenUDP(addr string) (*net.UDPConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("--listen %q: want host:port", addr)
	}
	network := "udp4"
	if strings.Contains(host, ":") {
		network = "udp6"
	}
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	conn, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return conn, nil
}

// joinDHT starts a node per the flags and bootstraps it. A client node
// (readOnly) is not put in other nodes' routing tables (BEP 43).
func (f *netFlags) joinDHT(ctx context.Context, e *env, readOnly bool) (*dht.Node, error) {
	bootstrap, err := f.bootstrapList()
	if err != nil {
		return nil, err
	}
	conn, err := listenUDP(f.listenAddr(bootstrap))
	if err != nil {
		return nil, err
	}
	node, err := dht.New(dht.Config{Conn: conn, Bootstrap: bootstrap, ReadOnly: readOnly, Logger: f.logger(e)})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if len(bootstrap) == 0 {
		return node, nil
	}
	if err := node.Bootstrap(ctx); err != nil {
		node.Close()
		return nil, fmt.Errorf("join the DHT through %s: %w", strings.Join(bootstrap, ","), err)
	}
	return node, nil
}
