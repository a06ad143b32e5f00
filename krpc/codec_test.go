package krpc

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func id(b byte) (x [20]byte) {
	for i := range x {
		x[i] = b
	}
	return x
}

func TestRoundTripQueryWithBEP44(t *testing.T) {
	v := []byte("d2:ih20:aaaaaaaaaaaaaaaaaaaa4:prevlee") // verbatim, even if a re-encoding would differ
	m := &Msg{T: []byte("aa"), Y: TypeQuery, Q: MethodPut, RO: true, A: &Args{
		ID: id(1), Token: []byte("tok"), V: v, K: bytes.Repeat([]byte{2}, 32), Sig: bytes.Repeat([]byte{3}, 64),
		Salt: []byte("salt"), Seq: 5, HasSeq: true, CAS: 4, HasCAS: true,
	}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	a := got.A
	if got.Q != MethodPut || !got.RO || a.ID != id(1) || !bytes.Equal(a.V, v) || a.Seq != 5 || !a.HasSeq || a.CAS != 4 || !a.HasCAS ||
		!bytes.Equal(a.Salt, []byte("salt")) || len(a.K) != 32 || len(a.Sig) != 64 || string(a.Token) != "tok" {
		t.Fatalf("round trip mismatch: %+v %+v", got, a)
	}
}

func TestRoundTripResponse(t *testing.T) {
	n4 := NodeInfo{ID: id(4), Addr: netip.MustParseAddrPort("127.0.0.1:6881")}
	n6 := NodeInfo{ID: id(6), Addr: netip.MustParseAddrPort("[::1]:6882")}
	m := &Msg{T: []byte{0, 1}, Y: TypeResponse, IP: netip.MustParseAddrPort("127.0.0.2:9"), R: &Return{
		ID: id(9), Nodes: []NodeInfo{n4, n6}, Token: []byte("t"),
		Values: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.3:1"), netip.MustParseAddrPort("[::2]:2")},
		V:      []byte("i7e"), Seq: 3, HasSeq: true,
	}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	r := got.R
	if len(r.Nodes) != 1 || r.Nodes[0] != n4 || len(r.Nodes6) != 1 || r.Nodes6[0] != n6 {
		t.Fatalf("nodes %v nodes6 %v", r.Nodes, r.Nodes6)
	}
	if len(r.Values) != 2 || r.Values[1] != netip.MustParseAddrPort("[::2]:2") || string(r.V) != "i7e" || r.Seq != 3 {
		t.Fatalf("values/v: %+v", r)
	}
	if got.IP != netip.MustParseAddrPort("127.0.0.2:9") {
		t.Fatalf("ip %v", got.IP)
	}
}

func TestDecodeError(t *testing.T) {
	m, err := Decode([]byte("d1:eli302e11:seq too lowe1:t2:xx1:y1:ee"))
	if err != nil {
		t.Fatal(err)
	}
	if m.E.Code != 302 || m.E.Msg != "seq too low" {
		t.Fatalf("%+v", m.E)
	}
}

func TestMappedNodes6AreUnmapped(t *testing.T) {
	one := id(1)
	b := append(one[:], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1, 0x1a, 0xe1}...)
	nodes, err := ParseCompactNodes(b, 18)
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0].Addr != netip.MustParseAddrPort("127.0.0.1:6881") {
		t.Fatalf("got %v", nodes[0].Addr)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]string{
		"not bencode":       "hello",
		"list":              "le",
		"no t":              "d1:y1:qe",
		"bad y":             "d1:t2:aa1:y1:ze",
		"short id in r":     "d1:rd2:id3:abce1:t2:aa1:y1:re",
		"nodes not mult 26": "d1:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes3:abce1:t2:aa1:y1:re",
		"unsorted keys":     "d1:y1:r1:t2:aae",
		"trailing":          "d1:t2:aa1:y1:eexx",
		"deep":              "d1:al" + string(bytes.Repeat([]byte("l"), 100)) + string(bytes.Repeat([]byte("e"), 101)) + "e",
		"huge string":       "d1:t99999999999:x",
		"leading zero int":  "d1:ei01e1:t2:aa1:y1:ee",
	}
	for name, in := range cases {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestMalformedQueryKeepsTransaction(t *testing.T) {
	m, err := Decode([]byte("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe"))
	if !errors.Is(err, ErrMalformed) || m == nil || string(m.T) != "aa" || m.Q != MethodPing || m.A != nil {
		t.Fatalf("m=%+v err=%v", m, err)
	}
}
