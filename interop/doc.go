// Package interop proves, in `go test`, that dhtdb's DHT speaks BEP 5 and
// BEP 44 the way the field does. It holds tests (and one benchmark) only.
//
// Every test runs on loopback with real processes and real UDP: libtorrent
// 2.0.8 peers (internal/ltpeer: python3-libtorrent in a child process) and
// anacrolix/dht v2.24.0 servers (in process, a test-only dependency) are
// mixed with our dht.Node in small networks, and each side reads what the
// other stored:
//
//   - our immutable and salted mutable puts (dictionaries, like a dhtdb
//     pointer; a new seq with cas) are read by libtorrent's dht_get_item,
//     and libtorrent's puts (immutable without seq, mutable with salt) are
//     stored by our nodes and read by our Get, also once libtorrent is gone;
//   - networks where only libtorrent nodes store and where only ours do
//     (libtorrent read-only), with libtorrent's refusals (302, 301) and its
//     answers to a get that carries seq reaching our client;
//   - the BEP 44 test vectors, signed by libtorrent with the spec's key,
//     equal the spec's signatures and are served by our nodes;
//   - items at the size limits (1000-byte v, 64-byte salt), both ways;
//   - BEP 5 peer discovery: libtorrent's announce found by our GetPeers, our
//     Announce found by libtorrent, and a libtorrent download by infohash
//     alone whose peers come through our nodes;
//   - anacrolix/dht servers ping, find_node, get and put against our nodes,
//     within what its known bugs allow (listed in anacrolix_test.go).
//
// The tests fail, not skip, when python3-libtorrent is missing; the message
// says what to install. BenchmarkMixedNetwork prints get and put latencies
// of our node and of libtorrent on one mixed loopback network.
package interop
