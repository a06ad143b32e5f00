package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runner is one subcommand: it registers its flags, then runs with the
// positional arguments.
type runner interface {
	flags(fs *flag.FlagSet)
	run(ctx context.Context, e *env, args []string) error
}

// command is an entry of the command table.
type command struct {
	name     string // words after "dhtdb", e.g. "dht put"
	synopsis string // flags and arguments
	summary  string
	new      func() runner
}

// commandTable lists the commands in the order the usage shows them.
func commandTable() []command {
	return []command{
		{"keygen", "--out FILE [--no-passphrase]", "new ed25519 key file (encrypted with a passphrase); prints the public key", func() runner { return &keygenCmd{} }},
		{"dht node", "[--listen ADDR] [--bootstrap HOST:PORT,...]", "run one DHT node until interrupted", func() runner { return &dhtNodeCmd{} }},
		{"dht put", "[--key FILE [--salt S] [--seq N] [--cas N]] VALUE", "store VALUE (a bencoded string) in the DHT: immutable, or mutable signed with the key; prints the target and the put report", func() runner { return &dhtPutCmd{} }},
		{"dht get", "TARGET | --pubkey HEX [--salt S] | dhtdb://KEY/NAME | magnet:?xs=urn:btpk:...", "get an immutable item by target or a mutable one by key and salt; prints value and seq", func() runner { return &dhtGetCmd{} }},
		{"testnet", "[--nodes N] [--listen ADDR]", "run N DHT nodes on loopback; prints the bootstrap address; runs until interrupted", func() runner { return &testnetCmd{} }},
		{"create", "NAME [--key FILE] [--data DIR]", "a new database owned by the key; prints its address", func() runner { return &createCmd{} }},
		{"exec", "DB SQL [ARG...]", "a write on the local copy of a database you own", func() runner { return &execCmd{} }},
		{"publish", "DB", "publish the local copy as the next version", func() runner { return &publishCmd{} }},
		{"query", "DB SQL [ARG...]", "a read on the local copy", func() runner { return &queryCmd{} }},
		{"follow", "[--wait] DB", "keep a local copy of someone's database in sync; --wait shows the download until the newest version is installed", func() runner { return &followCmd{} }},
		{"unfollow", "DB", "stop following a database and drop its local copy", func() runner { return &unfollowCmd{} }},
		{"status", "[DB] [--watch]", "versions, seq and sync state of one database or all; --watch follows one as it changes", func() runner { return &statusCmd{} }},
		{"serve", "[--data DIR] [--http ADDR] [--listen ADDR] [--bootstrap HOST:PORT,...]", "the daemon: DHT node, torrent client, sync engine, HTTP API; the other commands act through it", func() runner { return &serveCmd{} }},
		{"bench dht", "[--nodes N] [--seed S] [--impl ours,anacrolix]", "DHT get/put latency, success and cost on a simulated network, ours and anacrolix/dht side by side", func() runner { return &benchDHTCmd{} }},
		{"bench sync", "[--size MiB] [--delta-size MiB] [--rows 1,1000] [--no-libtorrent]", "snapshot transfer speed (ours and libtorrent's), delta bytes, peak memory, on loopback", func() runner { return &benchSyncCmd{} }},
		{"bench propagate", "[--readers N] [--versions N] [--poll DUR]", "commit-to-all-readers time and idle poll cost, writer and reader daemons on loopback", func() runner { return &benchPropagateCmd{} }},
		{"demo", "[--nodes N] [--readers N]", "a complete local network in one process: a writer and readers publish, sync by delta, fall back, republish, with timings; loopback only, no internet", func() runner { return &demoCmd{} }},
	}
}

// findCommand matches the longest command name at the start of args.
func findCommand(args []string) (*command, []string) {
	var best *command
	var bestWords int
	for _, c := range commandTable() {
		words := strings.Fields(c.name)
		if len(words) > len(args) || len(words) <= bestWords {
			continue
		}
		match := true
		for i, w := range words {
			match = match && args[i] == w
		}
		if match {
			c := c
			best, bestWords = &c, len(words)
		}
	}
	return best, args[bestWords:]
}

func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "dhtdb: a database that lives in the BitTorrent network")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: dhtdb COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commandTable() {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "DB is a local name, a dhtdb://KEY/NAME address or a BEP 46 magnet. The database")
	fmt.Fprintln(w, "commands act through the daemon running on --data DIR, else on DIR themselves.")
	fmt.Fprintln(w, "Every command takes --json (one JSON object per line). Commands that join the")
	fmt.Fprintln(w, "DHT take --bootstrap host:port,... (default: the public Mainline routers).")
	fmt.Fprintln(w, "Run 'dhtdb COMMAND -h' for its flags.")
}

func writeCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: dhtdb %s %s\n\n%s\n\nflags:\n", c.name, c.synopsis, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
