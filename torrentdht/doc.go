// Package torrentdht lets an anacrolix/torrent client find peers through
// dhtdb's own DHT node.
//
// anacrolix/torrent v1.61.0 takes its peer sources as torrent.DhtServer
// values (Client.AddDhtServer, with ClientConfig.NoDHT so that it does not
// start anacrolix/dht, whose put/get bugs are why the project has its own
// node). Server adapts a dht node to that interface:
//
//	srv, err := torrentdht.New(torrentdht.Config{Node: node})
//	cfg := torrent.NewDefaultClientConfig()
//	cfg.NoDHT = true
//	cl, err := torrent.NewClient(cfg)
//	cl.AddDhtServer(srv)
//
// The client calls Announce once per torrent and then waits up to fifteen
// minutes before calling it again, so a single lookup made before anyone
// seeds would leave a fetch without peers for a quarter of an hour. An
// announce here therefore keeps running until the client closes it: it looks
// up and announces at once, retries quickly (doubling from Config.Retry)
// while no peer has been found, and then repeats every Config.Interval.
//
// The client asks for an "implied port" announce because anacrolix's own DHT
// shares its UDP socket with uTP. Ours does not: the node's UDP port is not
// the torrent listen port, so the adapter always announces the explicit port
// the client gives.
package torrentdht
