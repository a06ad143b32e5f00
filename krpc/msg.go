package krpc

import (
	"errors"
	"fmt"
	"net/netip"
)

// Message types (the `y` key).
const (
	TypeQuery    = "q"
	TypeResponse = "r"
	TypeError    = "e"
)

// Query methods (the `q` key).
const (
	MethodPing         = "ping"
	MethodFindNode     = "find_node"
	MethodGetPeers     = "get_peers"
	MethodAnnouncePeer = "announce_peer"
	MethodGet          = "get"
	MethodPut          = "put"
)

// KRPC error codes (BEP 5). The BEP 44 codes are in package bep44.
const (
	CodeGeneric       = 201
	CodeServer        = 202
	CodeProtocol      = 203
	CodeMethodUnknown = 204
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("krpc: malformed message")

// NodeInfo is one entry of a compact node list.
type NodeInfo struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// Msg is one KRPC message. Exactly one of A, R, E is set, according to Y.
type Msg struct {
	T  []byte // transaction id
	Y  string // TypeQuery, TypeResponse or TypeError
	Q  string // method, for queries
	A  *Args
	R  *Return
	E  *Error
	IP netip.AddrPort // BEP 42 `ip`: the address the sender saw us at; zero if absent
	RO bool           // BEP 43 `ro`: the sender is read-only
	V  []byte         // client version, the top-level `v` (not BEP 44's)
}

// Args are the arguments of a query (`a`). Only the fields of the method are
// used; the Has* flags say whether an optional field was present.
type Args struct {
	ID          [20]byte
	Target      [20]byte // find_node, get
	HasTarget   bool
	InfoHash    [20]byte // get_peers, announce_peer
	HasInfoHash bool
	Port        int // announce_peer
	HasPort     bool
	ImpliedPort bool   // announce_peer implied_port=1
	Token       []byte // announce_peer, put
	Want        []string

	// BEP 44 put / get.
	V      []byte // verbatim bencoded value as received; nil if absent
	K      []byte // public key (32 bytes when valid; length is checked by the handler)
	Sig    []byte // signature (64 bytes when valid)
	Salt   []byte
	Seq    int64
	HasSeq bool
	CAS    int64
	HasCAS bool
}

// Return is the body of a response (`r`).
type Return struct {
	ID     [20]byte
	Nodes  []NodeInfo       // `nodes`, IPv4
	Nodes6 []NodeInfo       // `nodes6`, IPv6 (IPv4-mapped entries are unmapped)
	Values []netip.AddrPort // get_peers compact peers
	Token  []byte

	// BEP 44 get.
	V      []byte // verbatim bencoded value; nil if absent
	K      []byte
	Sig    []byte
	Seq    int64
	HasSeq bool
}

// Error is the body of an error message (`e`). It implements error, so a
// query can return a remote KRPC error directly.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("krpc error %d: %s", e.Code, e.Msg) }

// AllNodes returns Nodes followed by Nodes6.
func (r *Return) AllNodes() []NodeInfo {
	if len(r.Nodes6) == 0 {
		return r.Nodes
	}
	out := make([]NodeInfo, 0, len(r.Nodes)+len(r.Nodes6))
	return append(append(out, r.Nodes...), r.Nodes6...)
}
