// Package bencode is a strict, allocation-light bencode codec for the KRPC
// layer and BEP 44 values.
//
// Decoding keeps, for every value, the verbatim bytes it was decoded from
// (Value.Raw), because BEP 44 signs and hashes the received encoding of `v`: a
// value must never be re-encoded before its signature or hash is checked.
// Decoding is strict (canonical integers and lengths, sorted unique dictionary
// keys, no trailing data, bounded nesting) and never panics on hostile input.
//
// It is hand-written rather than taken from anacrolix/torrent/bencode because
// that codec decodes into reflected Go values, which loses the raw spans of
// nested values unless every field is declared bencode.Bytes, and accepts
// non-canonical input that would then hash differently from what was sent.
package bencode
