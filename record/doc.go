// Package record is the pointer of a dhtdb database: the value of the BEP 44
// mutable item that names the database's current snapshot, and the addresses
// that name a database.
//
// The pointer is a bencoded dictionary of at most 1000 bytes (docs/PROTOCOL.md §3):
//
//	ih    20-byte string     infohash of the current snapshot (the BEP 46 key)
//	prev  list, ≤ 4 × 20 B   earlier snapshots, newest first
//	t     integer            publication time, Unix seconds
//	size  integer            snapshot length in bytes
//	ro    integer 1          the owner locked the database read-only
//	next  32-byte string     the owner moved the database to this public key
//	enc   string             the snapshot is encrypted: scheme and key id
//
// Decode is strict (wrong types and lengths, unsorted or repeated keys,
// trailing bytes, oversize input are errors that wrap ErrMalformed or
// ErrTooBig) but keeps every key it does not know, verbatim, in
// Record.Unknown, so that Encode (and Next, which builds the following
// version) carry them on. Signing and verifying always use the verbatim bytes
// received; a decoded Record is for reading, never for re-checking a signature.
//
// An Address is (public key, name): the name is the BEP 44 salt, UTF-8, 1 to
// 64 bytes. It has two text forms, both accepted by ParseAddress:
//
//	dhtdb://<64 hex public key>/<name, URL path escaped>
//	magnet:?xs=urn:btpk:<64 hex public key>&s=<hex salt>     (BEP 46)
//
// The bencoding uses github.com/anacrolix/torrent/bencode for the syntax; the
// field rules are checked here, so errors name the field at fault.
package record
