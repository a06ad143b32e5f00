package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// smallDHTConfig is the scenario on a network small enough for a test.
func smallDHTConfig(impls ...string) DHTConfig {
	cfg := DefaultDHTConfig()
	cfg.Nodes = 150
	cfg.Puts, cfg.Gets = 10, 10
	cfg.Impls = impls
	return cfg
}

func TestRunDHTAnacrolix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := RunDHT(ctx, smallDHTConfig(ImplAnacrolix), &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	a := res.Anacrolix
	if a == nil || a.Error != "" {
		t.Fatalf("anacrolix result %+v\n%s", a, progress.String())
	}
	if a.Put.Ops != 10 || a.Get.Ops != 10 || res.Nodes != 150 {
		t.Errorf("ops %d/%d nodes %d", a.Put.Ops, a.Get.Ops, res.Nodes)
	}
	if a.Get.P50ms <= 0 || a.Get.P95ms < a.Get.P50ms || a.Put.Msgs <= 0 || a.TableMean <= 0 {
		t.Errorf("implausible figures %+v", a)
	}
	checkShape(t, res)
	var text strings.Builder
	res.WriteText(&text)
	t.Logf("\n%s", text.String())
}

// checkShape checks the JSON keys issue 2 asks for.
func checkShape(t *testing.T, res DHTResult) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ours", "anacrolix", "nodes", "seed"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json lacks %q: %s", k, b)
		}
	}
	for _, impl := range []string{"ours", "anacrolix"} {
		r, _ := m[impl].(map[string]any)
		if r == nil {
			continue // not run
		}
		get, _ := r["get"].(map[string]any)
		put, _ := r["put"].(map[string]any)
		for _, k := range []string{"p50_ms", "p95_ms", "success", "msgs"} {
			if _, ok := get[k]; !ok {
				t.Errorf("%s.get lacks %q", impl, k)
			}
			if _, ok := put[k]; !ok {
				t.Errorf("%s.put lacks %q", impl, k)
			}
		}
		if _, ok := put["stored_mean"]; !ok {
			t.Errorf("%s.put lacks stored_mean", impl)
		}
	}
}

func TestDHTConfigValidate(t *testing.T) {
	for _, c := range []DHTConfig{
		{Nodes: 10},
		{Nodes: 100, MinRTT: 2 * time.Second, MaxRTT: time.Second},
		{Nodes: 100, Loss: 1},
		{Nodes: 100, Silent: 0.9},
		{Nodes: 100, Impls: []string{"bittorrent"}},
	} {
		if _, err := RunDHT(context.Background(), c, nil); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestWaveStart(t *testing.T) {
	for _, c := range []struct{ i, want int }{{0, 0}, {15, 0}, {16, 16}, {31, 16}, {32, 32}, {63, 32}, {64, 64}, {1999, 1024}} {
		if got := waveStart(c.i); got != c.want {
			t.Errorf("waveStart(%d) = %d, want %d", c.i, got, c.want)
		}
	}
}
