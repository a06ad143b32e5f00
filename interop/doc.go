// Package interop proves, in `go test`, that dhtdb's DHT speaks BEP 5 and
// BEP 44 the way the field does. It holds tests only.
//
// Every test runs on loopback with real processes and real UDP: libtorrent
// 2.0.8 peers (internal/ltpeer, python3-libtorrent in a child process) and
// anacrolix/dht v2.24.0 servers (in process, a test-only dependency) are
// mixed with our dht.Node in small networks, and each side reads what the
// other stored:
//
//   - our immutable and salted mutable puts are read by libtorrent's
//     dht_get_item, and libtorrent's puts (immutable without seq, mutable
//     with salt) are stored by our nodes and read by our Get;
//   - networks where only libtorrent nodes store (our node a read-only
//     client) and where only ours do (libtorrent read-only);
//   - anacrolix/dht servers ping, find_node, get and put against our nodes,
//     within what its known bugs allow (listed in anacrolix_test.go).
//
// The tests fail, not skip, when python3-libtorrent is missing; the message
// says what to install.
package interop
