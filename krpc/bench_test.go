package krpc

import (
	"net/netip"
	"testing"
)

func benchResponse() []byte {
	r := &Return{ID: id(1), Token: []byte("12345678"), V: []byte("d2:ih20:aaaaaaaaaaaaaaaaaaaae"), K: make([]byte, 32), Sig: make([]byte, 64), Seq: 9, HasSeq: true}
	for i := range 8 {
		r.Nodes = append(r.Nodes, NodeInfo{ID: id(byte(i)), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), 6881)})
	}
	b, _ := (&Msg{T: []byte("aa"), Y: TypeResponse, R: r}).Encode()
	return b
}

func BenchmarkDecodeGetResponse(b *testing.B) {
	pkt := benchResponse()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeGetResponse(b *testing.B) {
	m, _ := Decode(benchResponse())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
