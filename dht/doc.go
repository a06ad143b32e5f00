// Package dht is dhtdb's Mainline DHT node: KRPC over UDP (BEP 5) with
// IPv6 node lists (BEP 32), secure node ids (BEP 42), read-only mode
// (BEP 43) and the storage of arbitrary data (BEP 44), both sides.
//
// A Node serves on a net.PacketConn: a real *net.UDPConn, or unchanged a
// simulated conn (package simnet) so that thousands of nodes run in one
// process. One goroutine reads the conn; time comes from an injected
// clock.Clock and randomness from an injected source, so token rotation,
// expiry and timeouts run the same under a fake clock in tests.
//
// The node side is:
//   - transport.go, tx.go: the read loop, transaction ids, the hard query
//     timeout, and the primitive query(ctx, addr, method, args) every
//     client operation is built on;
//   - table.go: the Kademlia routing table (k = 8, the bucket holding our own
//     id splits, replacement cache, eviction after consecutive timeouts),
//     queried with closest(target, count);
//   - handlers.go, handlers_put.go: ping, find_node, get_peers,
//     announce_peer, get, put; tokens.go (a secret rotating every 5 minutes,
//     a token bound to the requester's IP and accepted for 5 to 10 minutes);
//     store.go (BEP 44 items: 700 by default, 2 h lifetime, least recently
//     put evicted first); peerstore.go; ratelimit.go (per source IP and
//     port by default, so a loopback testnet on one IP works);
//   - bep42.go: secure node ids. A node whose own address is public takes a
//     BEP 42 id at start; one bound to an unspecified or private address
//     learns its external IP from the `ip` field of answers (3 nodes must
//     agree) and then switches to a matching id, rebuilding its table.
//     Loopback and private addresses are exempt;
//   - bootstrap.go: Bootstrap, Ping, AddNode and the background maintenance
//     (expiry, bucket refresh, pings of questionable nodes), which
//     Config.DisableBackground turns off for tests.
//
// The client side (Get, Put, GetPeers, Announce: getput*.go,
// peers_client.go and the pure lookup state machine in dht/lookup) is built
// on query and closest.
//
// Why hand-written: the Go library of the field, anacrolix/dht v2.24.0, was
// tried and is not good enough to build on. Its put reaches only about 4 of
// the 8 closest nodes (it counts IPv4 nodes twice through `nodes6` as ::ffff:
// addresses), its CAS check compares against the wrong field so CAS never
// works, it refuses libtorrent-style immutable puts without `seq` (error
// 203), getput.Put returns success when every node rejected the put,
// getput.Get waits for the whole lookup to stall, one rate limiter is shared
// by every server in a process, and its in-memory peer store returns garbage
// addresses. This package fixes each of those by construction: addresses are
// unmapped when decoded, CAS is compared with the stored seq, an immutable
// put needs no seq, puts report per-node outcomes, the limiter belongs to the
// node, and announced peers are stored as the real source IP with the
// announced port.
package dht
