package propagate

import (
	"context"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Readers: 3, Versions: 3, PollInterval: 200 * time.Millisecond, DHTNodes: 6, Dir: t.TempDir(),
		Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Readers != 3 || res.Versions != 3 || len(res.PerVersionMs) != 3 {
		t.Errorf("result %+v: want 3 readers, 3 versions measured", res)
	}
	if res.P50Ms <= 0 || res.MaxMs < res.P50Ms {
		t.Errorf("p50 %v, max %v", res.P50Ms, res.MaxMs)
	}
	if res.IdlePollPackets <= 0 || res.IdlePollBytes <= 0 {
		t.Errorf("idle poll cost %v packets, %v bytes: not measured", res.IdlePollPackets, res.IdlePollBytes)
	}
	if _, err := Run(ctx, Config{Readers: -1}); err == nil {
		t.Error("negative readers accepted")
	}
}

// BenchmarkPropagate runs the benchmark at its default size once and reports
// the figures (go test -run NONE -bench Propagate -benchtime 1x).
func BenchmarkPropagate(b *testing.B) {
	for range b.N {
		res, err := Run(context.Background(), Config{Progress: func(s string) { b.Log(s) }})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.P50Ms, "p50-ms")
		b.ReportMetric(res.MaxMs, "max-ms")
		b.ReportMetric(res.IdlePollBytes, "idle-poll-bytes")
		b.ReportMetric(res.IdlePollPackets, "idle-poll-packets")
		b.ReportMetric(res.DownloadedPerVersion, "downloaded-bytes/version")
		b.ReportMetric(float64(res.DBBytes), "db-bytes")
	}
}
