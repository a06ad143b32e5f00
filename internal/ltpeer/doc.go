// Package ltpeer runs libtorrent (the C++ BitTorrent library used by
// qBittorrent, Deluge and most of the Mainline DHT) as a real peer, so tests
// and benchmarks can prove that dhtdb speaks the same protocols as the field.
//
// A Peer is one libtorrent 2.0 session in a child process: Debian's
// python3-libtorrent bindings under /usr/bin/python3, running the driver
// script ltpeer.py (embedded in the binary). Go talks to it over the child's
// stdin/stdout, one JSON object per line; binary values travel as hex. The
// session listens on 127.0.0.1 only, with LSD, UPnP and NAT-PMP off, no
// bootstrap routers, and the DHT settings that loopback needs (no
// one-node-per-IP restriction, a raised rate limit).
//
// What a Peer can do:
//   - DHT: node id, add node, routing table, BEP 44 immutable and salted
//     mutable put and get (dht_put_item / dht_get_item), BEP 5 get_peers;
//   - torrents: add by infohash (magnet, metadata by BEP 9) or from a
//     .torrent file for seeding, connect a peer, announce on the DHT now,
//     status, wait for completion, remove.
//
// The driver answers requests out of order (a get answers when libtorrent's
// alert arrives) and waits for alerts on libtorrent's alert fd.
//
// Why a subprocess and not cgo: dhtdb builds with CGO_ENABLED=0, and a real
// process is what a user runs. Why Python: the bindings are packaged by
// Debian, so CI only needs `apt-get install python3-libtorrent`; there is no
// other libtorrent front end that exposes dht_put_item.
//
// Limits of the bindings, reflected in the API: a mutable put stores a byte
// string only (v is its bencoding) and libtorrent picks the seq itself (the
// highest it finds + 1); the bindings have no ed25519 key functions, so
// PutMutable derives libtorrent's 64-byte secret key (SecretKey: the clamped
// SHA-512 of the seed) from a Go ed25519 key; the item alerts decode only
// byte-string values, so the driver takes other values (dictionaries)
// verbatim from the get responses it captures; there is no announce of a
// bare infohash, only of a torrent libtorrent has.
//
// When python3-libtorrent is missing, Start returns an error wrapping
// ErrNoLibtorrent that says what to install, and StartTest fails the test
// with it (interop tests must fail, not skip, when the peer is missing). The
// child is stopped by Close, by StartTest's cleanup, and on Linux by the
// kernel (parent-death signal) if the test binary itself dies.
//
// Typical use in a test:
//
//	lt := ltpeer.StartTest(t, ltpeer.Config{Bootstrap: []netip.AddrPort{ours}})
//	if _, err := lt.WaitNodes(ctx, 3); err != nil { ... }
//	v, err := lt.GetImmutable(ctx, target)
package ltpeer
