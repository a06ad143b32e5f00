package krpc

import (
	"fmt"

	"github.com/dhtdb/dhtdb/krpc/bencode"
)

// Encode returns the bencoding of m. BEP 44 values (Args.V, Return.V) are
// written verbatim; they must already be valid bencode.
func (m *Msg) Encode() ([]byte, error) {
	return m.AppendTo(make([]byte, 0, 256))
}

// AppendTo appends the bencoding of m to dst.
func (m *Msg) AppendTo(dst []byte) ([]byte, error) {
	var d bencode.DictBuilder
	d.String("t", m.T)
	d.String("y", []byte(m.Y))
	if len(m.V) > 0 {
		d.String("v", m.V)
	}
	if m.IP.IsValid() {
		d.String("ip", CompactAddr(m.IP))
	}
	if m.RO {
		d.Int("ro", 1)
	}
	switch m.Y {
	case TypeQuery:
		if m.A == nil || m.Q == "" {
			return nil, fmt.Errorf("encode query: missing method or arguments")
		}
		d.String("q", []byte(m.Q))
		raw, err := m.A.encode()
		if err != nil {
			return nil, err
		}
		d.Raw("a", raw)
	case TypeResponse:
		if m.R == nil {
			return nil, fmt.Errorf("encode response: missing body")
		}
		raw, err := m.R.encode()
		if err != nil {
			return nil, err
		}
		d.Raw("r", raw)
	case TypeError:
		if m.E == nil {
			return nil, fmt.Errorf("encode error: missing body")
		}
		l := append([]byte{'l'}, bencode.AppendInt(nil, int64(m.E.Code))...)
		l = bencode.AppendString(l, []byte(m.E.Msg))
		d.Raw("e", append(l, 'e'))
	default:
		return nil, fmt.Errorf("encode: unknown message type %q", m.Y)
	}
	return d.AppendTo(dst), nil
}

func checkRaw(what string, v []byte) error {
	if err := bencode.Check(v); err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	return nil
}

func (a *Args) encode() ([]byte, error) {
	var d bencode.DictBuilder
	d.String("id", a.ID[:])
	if a.HasTarget {
		d.String("target", a.Target[:])
	}
	if a.HasInfoHash {
		d.String("info_hash", a.InfoHash[:])
	}
	if a.HasPort {
		d.Int("port", int64(a.Port))
	}
	if a.ImpliedPort {
		d.Int("implied_port", 1)
	}
	if a.Token != nil {
		d.String("token", a.Token)
	}
	if len(a.Want) > 0 {
		l := []byte{'l'}
		for _, w := range a.Want {
			l = bencode.AppendString(l, []byte(w))
		}
		d.Raw("want", append(l, 'e'))
	}
	if a.V != nil {
		if err := checkRaw("v", a.V); err != nil {
			return nil, err
		}
		d.Raw("v", a.V)
	}
	if a.K != nil {
		d.String("k", a.K)
	}
	if a.Sig != nil {
		d.String("sig", a.Sig)
	}
	if len(a.Salt) > 0 {
		d.String("salt", a.Salt)
	}
	if a.HasSeq {
		d.Int("seq", a.Seq)
	}
	if a.HasCAS {
		d.Int("cas", a.CAS)
	}
	return d.AppendTo(nil), nil
}

func (r *Return) encode() ([]byte, error) {
	var d bencode.DictBuilder
	d.String("id", r.ID[:])
	// Each node goes to the list of its address family, whichever field the
	// caller put it in.
	var n4, n6 []byte
	for _, n := range r.AllNodes() {
		if n.Addr.Addr().Unmap().Is4() {
			n4 = AppendCompactNodes(n4, []NodeInfo{n})
		} else {
			n6 = AppendCompactNodes(n6, []NodeInfo{n})
		}
	}
	if n4 != nil {
		d.String("nodes", n4)
	}
	if n6 != nil {
		d.String("nodes6", n6)
	}
	if len(r.Values) > 0 {
		l := []byte{'l'}
		for _, p := range r.Values {
			l = bencode.AppendString(l, CompactAddr(p))
		}
		d.Raw("values", append(l, 'e'))
	}
	if r.Token != nil {
		d.String("token", r.Token)
	}
	if r.V != nil {
		if err := checkRaw("v", r.V); err != nil {
			return nil, err
		}
		d.Raw("v", r.V)
	}
	if r.K != nil {
		d.String("k", r.K)
	}
	if r.Sig != nil {
		d.String("sig", r.Sig)
	}
	if r.HasSeq {
		d.Int("seq", r.Seq)
	}
	return d.AppendTo(nil), nil
}
