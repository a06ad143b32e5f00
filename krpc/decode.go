package krpc

import (
	"fmt"
	"net/netip"

	"github.com/dhtdb/dhtdb/krpc/bencode"
)

// MaxTxLen bounds the transaction id a decoder accepts.
const MaxTxLen = 64

// Decode parses one KRPC packet. Byte slices in the result alias b.
//
// When the packet is a query whose `t` and `q` could be read but whose
// arguments are malformed, Decode returns both the partial message (T, Y, Q
// set, A nil) and an error wrapping ErrMalformed, so that a server can answer
// with error 203. Otherwise an error comes with a nil message. Decode never
// panics.
func Decode(b []byte) (*Msg, error) {
	v, err := bencode.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v.Kind != bencode.Dict {
		return nil, fmt.Errorf("%w: not a dictionary", ErrMalformed)
	}
	m := &Msg{}
	t, ok := v.Get("t")
	if !ok || t.Kind != bencode.String || len(t.Str) > MaxTxLen {
		return nil, fmt.Errorf("%w: missing or bad transaction id", ErrMalformed)
	}
	m.T = t.Str
	y, err := getString(v, "y", true)
	if err != nil {
		return nil, err
	}
	m.Y = string(y)
	if ver, err := getString(v, "v", false); err == nil {
		m.V = ver
	}
	if ip, ok := v.Get("ip"); ok {
		if ip.Kind == bencode.String {
			if a, err := ParseCompactAddr(ip.Str); err == nil {
				m.IP = a
			}
		}
	}
	if ro, ok := v.Get("ro"); ok && ro.Kind == bencode.Int && ro.Int == 1 {
		m.RO = true
	}
	switch m.Y {
	case TypeQuery:
		q, err := getString(v, "q", true)
		if err != nil {
			return nil, err
		}
		m.Q = string(q)
		a, ok := v.Get("a")
		if !ok || a.Kind != bencode.Dict {
			return m, fmt.Errorf("%w: query without argument dictionary", ErrMalformed)
		}
		args, err := decodeArgs(a)
		if err != nil {
			return m, err
		}
		m.A = args
	case TypeResponse:
		r, ok := v.Get("r")
		if !ok || r.Kind != bencode.Dict {
			return nil, fmt.Errorf("%w: response without body", ErrMalformed)
		}
		ret, err := decodeReturn(r)
		if err != nil {
			return nil, err
		}
		m.R = ret
	case TypeError:
		e, ok := v.Get("e")
		if !ok || e.Kind != bencode.List || len(e.List) < 1 || e.List[0].Kind != bencode.Int {
			return nil, fmt.Errorf("%w: bad error body", ErrMalformed)
		}
		m.E = &Error{Code: int(e.List[0].Int)}
		if len(e.List) > 1 && e.List[1].Kind == bencode.String {
			m.E.Msg = string(e.List[1].Str)
		}
	default:
		return nil, fmt.Errorf("%w: unknown message type %q", ErrMalformed, m.Y)
	}
	return m, nil
}

func getString(d bencode.Value, key string, required bool) ([]byte, error) {
	v, ok := d.Get(key)
	if !ok {
		if required {
			return nil, fmt.Errorf("%w: missing %q", ErrMalformed, key)
		}
		return nil, nil
	}
	if v.Kind != bencode.String {
		return nil, fmt.Errorf("%w: %q is not a string", ErrMalformed, key)
	}
	return v.Str, nil
}

func getID(d bencode.Value, key string, dst *[20]byte, required bool) (bool, error) {
	s, err := getString(d, key, required)
	if err != nil {
		return false, err
	}
	if s == nil {
		return false, nil
	}
	if len(s) != 20 {
		return false, fmt.Errorf("%w: %q is %d bytes, want 20", ErrMalformed, key, len(s))
	}
	copy(dst[:], s)
	return true, nil
}

func getInt(d bencode.Value, key string) (int64, bool, error) {
	v, ok := d.Get(key)
	if !ok {
		return 0, false, nil
	}
	if v.Kind != bencode.Int {
		return 0, false, fmt.Errorf("%w: %q is not an integer", ErrMalformed, key)
	}
	return v.Int, true, nil
}

func decodeArgs(a bencode.Value) (*Args, error) {
	args := &Args{}
	var err error
	if _, err = getID(a, "id", &args.ID, true); err != nil {
		return nil, err
	}
	if args.HasTarget, err = getID(a, "target", &args.Target, false); err != nil {
		return nil, err
	}
	if args.HasInfoHash, err = getID(a, "info_hash", &args.InfoHash, false); err != nil {
		return nil, err
	}
	port, hasPort, err := getInt(a, "port")
	if err != nil {
		return nil, err
	}
	if hasPort {
		if port < 0 || port > 65535 {
			return nil, fmt.Errorf("%w: port %d out of range", ErrMalformed, port)
		}
		args.Port, args.HasPort = int(port), true
	}
	implied, _, err := getInt(a, "implied_port")
	if err != nil {
		return nil, err
	}
	args.ImpliedPort = implied != 0
	if args.Token, err = getString(a, "token", false); err != nil {
		return nil, err
	}
	if w, ok := a.Get("want"); ok && w.Kind == bencode.List {
		for _, e := range w.List {
			if e.Kind == bencode.String {
				args.Want = append(args.Want, string(e.Str))
			}
		}
	}
	if v, ok := a.Get("v"); ok {
		args.V = v.Raw
	}
	if args.K, err = getString(a, "k", false); err != nil {
		return nil, err
	}
	if args.Sig, err = getString(a, "sig", false); err != nil {
		return nil, err
	}
	if args.Salt, err = getString(a, "salt", false); err != nil {
		return nil, err
	}
	if args.Seq, args.HasSeq, err = getInt(a, "seq"); err != nil {
		return nil, err
	}
	if args.CAS, args.HasCAS, err = getInt(a, "cas"); err != nil {
		return nil, err
	}
	return args, nil
}

func decodeReturn(r bencode.Value) (*Return, error) {
	ret := &Return{}
	var err error
	if _, err = getID(r, "id", &ret.ID, true); err != nil {
		return nil, err
	}
	nodes, err := getString(r, "nodes", false)
	if err != nil {
		return nil, err
	}
	if ret.Nodes, err = ParseCompactNodes(nodes, 6); err != nil {
		return nil, err
	}
	nodes6, err := getString(r, "nodes6", false)
	if err != nil {
		return nil, err
	}
	if ret.Nodes6, err = ParseCompactNodes(nodes6, 18); err != nil {
		return nil, err
	}
	if vals, ok := r.Get("values"); ok {
		if vals.Kind != bencode.List {
			return nil, fmt.Errorf("%w: values is not a list", ErrMalformed)
		}
		ret.Values = make([]netip.AddrPort, 0, len(vals.List))
		for _, p := range vals.List {
			if p.Kind != bencode.String {
				return nil, fmt.Errorf("%w: peer is not a string", ErrMalformed)
			}
			a, err := ParseCompactAddr(p.Str)
			if err != nil {
				return nil, err
			}
			ret.Values = append(ret.Values, a)
		}
	}
	if ret.Token, err = getString(r, "token", false); err != nil {
		return nil, err
	}
	if v, ok := r.Get("v"); ok {
		ret.V = v.Raw
	}
	if ret.K, err = getString(r, "k", false); err != nil {
		return nil, err
	}
	if ret.Sig, err = getString(r, "sig", false); err != nil {
		return nil, err
	}
	if ret.Seq, ret.HasSeq, err = getInt(r, "seq"); err != nil {
		return nil, err
	}
	return ret, nil
}
