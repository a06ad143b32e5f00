// Package bep44 holds the BEP 44 item: an immutable value addressed by its
// SHA-1, or a mutable value signed with an ed25519 key and addressed by
// SHA1(public key || salt). It builds items (NewImmutable, NewMutable),
// computes targets and the signature buffer, and verifies items received from
// the network (Verify). It is used on both sides: the storing node (package
// dht's put/get handlers) and the client (dht.Node.Get/Put).
//
// The value V is always the verbatim bencoded bytes that were received or
// signed: signatures and hashes cover exactly those bytes, so a value is never
// decoded and re-encoded before it is checked.
//
// The package is ours rather than anacrolix/dht's bep44 because that one's
// types decode `v` into Go values and re-encode them for hashing, and the node
// around it (see package dht) decides what to store and serve. The BEP's own
// test vectors are in testdata/vectors.txt.
package bep44
