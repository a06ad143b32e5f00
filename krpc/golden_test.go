package krpc

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden wire files in testdata/golden")

// goldenMsgs are the messages whose exact encoding is pinned in
// testdata/golden (regenerate with go test -run Golden -update).
func goldenMsgs() map[string]*Msg {
	n4 := NodeInfo{ID: id(0x11), Addr: netip.MustParseAddrPort("127.0.0.1:6881")}
	n6 := NodeInfo{ID: id(0x22), Addr: netip.MustParseAddrPort("[::1]:6882")}
	return map[string]*Msg{
		"ping_query":      {T: []byte("aa"), Y: TypeQuery, Q: MethodPing, A: &Args{ID: id(1)}},
		"ping_response":   {T: []byte("aa"), Y: TypeResponse, IP: netip.MustParseAddrPort("127.0.0.9:6881"), R: &Return{ID: id(2)}},
		"find_node_ro":    {T: []byte{0, 7}, Y: TypeQuery, Q: MethodFindNode, RO: true, A: &Args{ID: id(1), Target: id(3), HasTarget: true, Want: []string{"n4", "n6"}}},
		"find_node_reply": {T: []byte{0, 7}, Y: TypeResponse, R: &Return{ID: id(2), Nodes: []NodeInfo{n4, n6}}},
		"get_peers_reply": {T: []byte("gp"), Y: TypeResponse, R: &Return{ID: id(2), Token: []byte("tok"), Values: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.5:80")}}},
		"announce_peer":   {T: []byte("ap"), Y: TypeQuery, Q: MethodAnnouncePeer, A: &Args{ID: id(1), InfoHash: id(4), HasInfoHash: true, Port: 6881, HasPort: true, ImpliedPort: true, Token: []byte("tok")}},
		"put_mutable": {T: []byte("pu"), Y: TypeQuery, Q: MethodPut, A: &Args{ID: id(1), Token: []byte("tok"), V: []byte("12:Hello World!"),
			K: bytes.Repeat([]byte{0x77}, 32), Sig: bytes.Repeat([]byte{0x68}, 64), Salt: []byte("foobar"), Seq: 1, HasSeq: true, CAS: 0, HasCAS: true}},
		"put_immutable_noseq": {T: []byte("pi"), Y: TypeQuery, Q: MethodPut, A: &Args{ID: id(1), Token: []byte("tok"), V: []byte("d2:ih20:aaaaaaaaaaaaaaaaaaaae")}},
		"get_seq":             {T: []byte("gq"), Y: TypeQuery, Q: MethodGet, A: &Args{ID: id(1), Target: id(5), HasTarget: true, Seq: 4, HasSeq: true}},
		"error_302":           {T: []byte("pu"), Y: TypeError, E: &Error{Code: 302, Msg: "sequence number less than current"}},
	}
}

func TestGoldenWire(t *testing.T) {
	for name, m := range goldenMsgs() {
		got, err := m.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", "golden", name+".bencode")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update to create)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoding changed\n got %q\nwant %q", name, got, want)
		}
		if _, err := Decode(want); err != nil {
			t.Errorf("%s: golden file does not decode: %v", name, err)
		}
	}
}
