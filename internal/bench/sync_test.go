package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A small run of the sync benchmark: every figure is produced, the fetching
// node runs as a child process (this test binary re-executed), and the
// deltas move a small fraction of the database.
func TestRunSyncSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := RunSync(ctx, SyncConfig{Size: 8 << 20, DeltaSize: 8 << 20, DeltaRows: []int{1, 50}, Dir: t.TempDir()}, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var text bytes.Buffer
	res.WriteText(&text)
	t.Logf("\n%s", text.String())
	if res.Full.Bytes < 7<<20 || res.Full.OursMiBps <= 0 {
		t.Errorf("full = %+v", res.Full)
	}
	if res.PeakRSSBytes <= 0 {
		t.Error("no peak RSS from the child process")
	}
	if res.Full.LibtorrentError != "" {
		t.Errorf("libtorrent: %s", res.Full.LibtorrentError)
	}
	if len(res.Deltas) != 2 || res.Delta.RowsChanged != 1 {
		t.Fatalf("deltas = %+v", res.Deltas)
	}
	for _, d := range res.Deltas {
		// received bytes cover the changed pieces, and not the whole db
		if d.ReceivedBytes < int64(d.PiecesChanged)*d.PieceLength/2 || d.Ratio >= 0.5 {
			t.Errorf("delta %+v", d)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"full":{"bytes"`, `"ours_mibps"`, `"libtorrent_mibps"`, `"delta":{`, `"db_bytes"`,
		`"received_bytes"`, `"ratio"`, `"rows_changed"`, `"peak_rss_bytes"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"256MB": 256 << 20, "100MiB": 100 << 20, "1G": 1 << 30, "4096": 4096, "1.5KB": 1536} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "x"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}

// BenchmarkSync runs the full sync scenario (256 MiB full transfer,
// 100 MiB database deltas of 1 and 1000 rows) once:
//
//	go test -run '^$' -bench Sync -benchtime 1x ./internal/bench
func BenchmarkSync(b *testing.B) {
	for b.Loop() {
		var progress bytes.Buffer
		res, err := RunSync(b.Context(), SyncConfig{}, &progress)
		if err != nil {
			b.Fatalf("%v\n%s", err, progress.String())
		}
		var text bytes.Buffer
		res.WriteText(&text)
		b.Logf("\n%s", text.String())
		b.ReportMetric(res.Full.OursMiBps, "ours-MiB/s")
		b.ReportMetric(res.Full.LibtorrentMiBps, "libtorrent-MiB/s")
		b.ReportMetric(100*res.Delta.Ratio, "delta1-%")
		b.ReportMetric(float64(res.PeakRSSBytes)/(1<<20), "peak-RSS-MiB")
	}
}
