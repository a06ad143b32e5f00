package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
)

const testIH = "0123456789abcdef0123456789abcdef01234567"

func TestFetchLine(t *testing.T) {
	for _, c := range []struct {
		p    daemon.FetchProgress
		want string
	}{
		{daemon.FetchProgress{IH: testIH, Phase: "metadata", Peers: 2},
			"fetch " + testIH + " metadata, 2 peers"},
		{daemon.FetchProgress{IH: testIH, Phase: "download", BytesDone: 12_897_484, BytesTotal: 105_486_336,
			PiecesDone: 40, PiecesTotal: 6442, Peers: 3, RateBps: 58_825_523},
			"fetch " + testIH + " 12.3/100.6 MiB, 40/6442 pieces, 3 peers, 56.1 MiB/s"},
		{daemon.FetchProgress{IH: testIH, Phase: "download", BytesDone: 0, BytesTotal: 65536,
			PiecesDone: 0, PiecesTotal: 4, Peers: 1, RateBps: 0.4},
			"fetch " + testIH + " 0.0/64.0 KiB, 0/4 pieces, 1 peers, 0 B/s"},
		{daemon.FetchProgress{IH: testIH, Phase: "check", BytesDone: 900, BytesTotal: 900,
			PiecesDone: 1, PiecesTotal: 1, Peers: 1, RateBps: 1500},
			"fetch " + testIH + " 900.0/900.0 B, 1/1 pieces, 1 peers, 1.5 KiB/s, checking"},
		{daemon.FetchProgress{IH: testIH, Phase: "download", BytesDone: 3 << 30, BytesTotal: 5 << 30,
			PiecesDone: 3, PiecesTotal: 5, Peers: 12, RateBps: 2.5 * (1 << 30)},
			"fetch " + testIH + " 3.0/5.0 GiB, 3/5 pieces, 12 peers, 2.5 GiB/s"},
	} {
		if got := fetchLine(c.p); got != c.want {
			t.Errorf("fetchLine(%+v)\n got %q\nwant %q", c.p, got, c.want)
		}
	}
}

// TestLineView: a line at each phase change and at most one a second within
// a phase; nothing without a fetch or when nothing changed.
func TestLineView(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	v := &lineView{w: &out, now: func() time.Time { return now }}
	step := func(d time.Duration, p *daemon.FetchProgress) {
		now = now.Add(d)
		v.update(daemon.Status{Fetch: p})
	}
	dl := func(done int64) *daemon.FetchProgress {
		return &daemon.FetchProgress{IH: testIH, Phase: "download", BytesDone: done, BytesTotal: 4096, PiecesTotal: 4, Peers: 1}
	}
	step(0, nil)
	step(0, &daemon.FetchProgress{IH: testIH, Phase: "metadata"})                    // line 1
	step(100*time.Millisecond, &daemon.FetchProgress{IH: testIH, Phase: "metadata"}) // same
	step(100*time.Millisecond, dl(0))                                                // line 2: phase
	step(300*time.Millisecond, dl(1024))                                             // too soon
	step(800*time.Millisecond, dl(2048))                                             // line 3
	step(200*time.Millisecond, &daemon.FetchProgress{IH: testIH, Phase: "check", BytesDone: 4096, BytesTotal: 4096, PiecesDone: 4, PiecesTotal: 4})
	step(0, nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"fetch " + testIH + " metadata, 0 peers",
		"fetch " + testIH + " 0.0/4.0 KiB, 0/4 pieces, 1 peers, 0 B/s",
		"fetch " + testIH + " 2.0/4.0 KiB, 0/4 pieces, 1 peers, 0 B/s",
		"fetch " + testIH + " 4.0/4.0 KiB, 4/4 pieces, 0 peers, 0 B/s, checking",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// JSON: the same steps as objects tagged "fetch".
	out.Reset()
	v = &lineView{w: &out, json: true, now: func() time.Time { return now }}
	v.update(daemon.Status{Fetch: dl(2048)})
	var ev map[string]any
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatalf("json line %q: %v", out.String(), err)
	}
	if ev["event"] != "fetch" || ev["ih"] != testIH || ev["bytes_done"] != 2048.0 || ev["bytes_total"] != 4096.0 || ev["pieces_total"] != 4.0 {
		t.Fatalf("json line %s", out.String())
	}
}
