package ltpeer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Node is an entry of libtorrent's DHT routing table.
type Node struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// PutResult is what libtorrent reports for a put (its dht_put_alert).
type PutResult struct {
	Target [20]byte
	// Stored is libtorrent's num_success: how many nodes acknowledged the put.
	Stored int
	// Seq and Sig are set for mutable puts: the seq libtorrent chose (highest
	// found + 1) and the signature it made.
	Seq int64
	Sig [64]byte
}

// MutableItem is a mutable item as libtorrent's dht_get_item returned it.
type MutableItem struct {
	V   []byte // bencoded value
	Seq int64
	Sig [64]byte
}

// NodeID returns the peer's DHT node id.
func (p *Peer) NodeID(ctx context.Context) ([20]byte, error) {
	var r struct {
		ID hexBytes `json:"id"`
	}
	if err := p.call(ctx, "node_id", nil, &r); err != nil {
		return [20]byte{}, err
	}
	return to20(r.ID, "node id")
}

// AddNode adds a DHT node (libtorrent pings it and adds it when it answers).
func (p *Peer) AddNode(ctx context.Context, addr netip.AddrPort) error {
	return p.call(ctx, "add_node", map[string]any{"addr": addr.String()}, nil)
}

// Nodes returns the live nodes of libtorrent's routing table.
func (p *Peer) Nodes(ctx context.Context) ([]Node, error) {
	var r struct {
		Nodes []struct {
			ID   hexBytes `json:"id"`
			Addr string   `json:"addr"`
		} `json:"nodes"`
	}
	if err := p.call(ctx, "nodes", map[string]any{}, &r); err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(r.Nodes))
	for _, n := range r.Nodes {
		id, err := to20(n.ID, "node id")
		if err != nil {
			return nil, err
		}
		addr, err := netip.ParseAddrPort(n.Addr)
		if err != nil {
			return nil, fmt.Errorf("ltpeer: node address %q: %w", n.Addr, err)
		}
		out = append(out, Node{ID: id, Addr: addr})
	}
	return out, nil
}

// WaitNodes polls the routing table until it holds at least n live nodes.
func (p *Peer) WaitNodes(ctx context.Context, n int) ([]Node, error) {
	return poll(ctx, func() ([]Node, bool, error) {
		nodes, err := p.Nodes(ctx)
		if errors.Is(err, ErrClosed) {
			return nil, false, err
		}
		return nodes, err == nil && len(nodes) >= n, nil
	}, func(last []Node) error {
		return fmt.Errorf("ltpeer: routing table has %d live nodes, want %d", len(last), n)
	})
}

// PutImmutable stores the bencoded value v with libtorrent's
// dht_put_item (an immutable put, which carries no seq).
func (p *Peer) PutImmutable(ctx context.Context, v []byte) (PutResult, error) {
	var r putReply
	if err := p.call(ctx, "put_immutable", map[string]any{"v": hex.EncodeToString(v)}, &r); err != nil {
		return PutResult{}, err
	}
	return r.result()
}

// PutMutable stores a salted mutable item with libtorrent's dht_put_item,
// signed by libtorrent with priv. The value is the byte string data (the
// stored v is its bencoding, e.g. "5:hello"): the Python bindings accept
// nothing else. libtorrent chooses the seq itself, as the highest seq it
// finds plus one; it is reported in the result.
func (p *Peer) PutMutable(ctx context.Context, priv ed25519.PrivateKey, salt, data []byte) (PutResult, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return PutResult{}, fmt.Errorf("ltpeer: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	return p.PutMutableExpanded(ctx, SecretKey(priv.Seed()), [32]byte(priv.Public().(ed25519.PublicKey)), salt, data)
}

// PutMutableExpanded is PutMutable with the key in libtorrent's form: the
// 64-byte expanded secret key (as the BEP 44 test vectors give it) and the
// public key.
func (p *Peer) PutMutableExpanded(ctx context.Context, secret [64]byte, pub [32]byte, salt, data []byte) (PutResult, error) {
	args := map[string]any{
		"secret_key": hex.EncodeToString(secret[:]),
		"public_key": hex.EncodeToString(pub[:]),
		"salt":       hex.EncodeToString(salt),
		"data":       hex.EncodeToString(data),
	}
	var r putReply
	if err := p.call(ctx, "put_mutable", args, &r); err != nil {
		return PutResult{}, err
	}
	return r.result()
}

// GetImmutable looks the target up with libtorrent's dht_get_item and returns
// the bencoded value, or ErrNotFound.
func (p *Peer) GetImmutable(ctx context.Context, target [20]byte) ([]byte, error) {
	var r struct {
		Found bool     `json:"found"`
		V     hexBytes `json:"v"`
	}
	if err := p.call(ctx, "get_immutable", map[string]any{"target": hex.EncodeToString(target[:])}, &r); err != nil {
		return nil, err
	}
	if !r.Found {
		return nil, fmt.Errorf("ltpeer: get immutable %x: %w", target, ErrNotFound)
	}
	return r.V, nil
}

// GetMutable looks a mutable item up with libtorrent's dht_get_item and
// returns its authoritative answer (the highest seq of the lookup), or
// ErrNotFound.
func (p *Peer) GetMutable(ctx context.Context, pub ed25519.PublicKey, salt []byte) (MutableItem, error) {
	var r struct {
		Found bool     `json:"found"`
		V     hexBytes `json:"v"`
		Seq   int64    `json:"seq"`
		Sig   hexBytes `json:"sig"`
	}
	args := map[string]any{"public_key": hex.EncodeToString(pub), "salt": hex.EncodeToString(salt)}
	if err := p.call(ctx, "get_mutable", args, &r); err != nil {
		return MutableItem{}, err
	}
	if !r.Found {
		return MutableItem{}, fmt.Errorf("ltpeer: get mutable %x/%q: %w", []byte(pub), salt, ErrNotFound)
	}
	it := MutableItem{V: r.V, Seq: r.Seq}
	if len(r.Sig) != len(it.Sig) {
		return MutableItem{}, fmt.Errorf("ltpeer: signature is %d bytes", len(r.Sig))
	}
	copy(it.Sig[:], r.Sig)
	return it, nil
}

// SecretKey returns libtorrent's 64-byte ed25519 secret key for a 32-byte
// seed: the clamped SHA-512 of the seed (the expanded key of ref10/orlp
// ed25519), not Go's seed||public key. Both sign identically.
func SecretKey(seed []byte) [64]byte {
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	return h
}

type putReply struct {
	Target hexBytes `json:"target"`
	Stored int      `json:"stored"`
	Seq    int64    `json:"seq"`
	Sig    hexBytes `json:"sig"`
}

func (r putReply) result() (PutResult, error) {
	t, err := to20(r.Target, "target")
	if err != nil {
		return PutResult{}, err
	}
	res := PutResult{Target: t, Stored: r.Stored, Seq: r.Seq}
	copy(res.Sig[:], r.Sig)
	return res, nil
}

// hexBytes is a []byte that travels as a hex string.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("hex field: %w", err)
	}
	*h, err = hex.DecodeString(s)
	return err
}

var _ json.Unmarshaler = (*hexBytes)(nil)

func to20(b []byte, what string) ([20]byte, error) {
	var out [20]byte
	if len(b) != 20 {
		return out, fmt.Errorf("ltpeer: %s is %d bytes, want 20", what, len(b))
	}
	copy(out[:], b)
	return out, nil
}

// pollInterval is how often the Wait* helpers ask the driver again.
const pollInterval = 50 * time.Millisecond

// poll calls check until it reports done or ctx ends; on ctx's end the error
// is made by fail from the last value seen, wrapped with ctx's error.
func poll[T any](ctx context.Context, check func() (T, bool, error), fail func(last T) error) (T, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		v, ok, err := check()
		if err != nil {
			return v, err
		}
		if ok {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%w: %w", fail(v), ctx.Err())
		case <-t.C:
		}
	}
}
