// Package krpc is the wire codec of the Mainline DHT: KRPC messages (BEP 5)
// over bencode, with compact node info for IPv4 (`nodes`) and IPv6
// (`nodes6`, BEP 32), compact peers (`values`), the BEP 42 `ip` field, the
// BEP 43 read-only flag `ro`, and the BEP 44 arguments v/k/sig/salt/seq/cas.
//
// The codec knows no protocol state: Decode turns one packet into a Msg and
// Msg.Encode turns it back. A BEP 44 `v` is kept as the verbatim bytes of the
// packet (Args.V, Return.V) and written back verbatim, because its signature
// and hash cover exactly those bytes; it is never re-encoded. Every packet is
// hostile input: decoding is strict, returns errors wrapping ErrMalformed and
// never panics (see FuzzDecode).
//
// The codec is hand-written, together with package dht, because the Go DHT
// library of the field (anacrolix/dht v2.24.0) proved unfit to build on: its
// put reaches only about 4 of the 8 closest nodes (IPv4 nodes counted twice via
// `nodes6` as ::ffff: addresses), its CAS check compares the wrong field, it
// refuses immutable puts without `seq`, and its krpc.MsgArgs decodes a put's
// `v` into an interface{} that has to be re-encoded before it can be hashed
// or verified. Owning the codec lets us keep the raw `v` and unmap
// IPv4-mapped `nodes6` entries (ParseCompactNodes does), so duplicates are
// recognisable.
package krpc
