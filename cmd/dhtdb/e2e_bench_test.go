package main

import (
	"testing"

	"github.com/dhtdb/dhtdb/internal/bench"
)

// TestBenchCommands runs the benchmarks at toy sizes: the figures are not
// checked, only that the commands run and print their JSON.
func TestBenchCommands(t *testing.T) {
	var d bench.DHTResult
	ok(t, &d, nil, "bench", "dht", "--nodes", "40", "--puts", "3", "--gets", "3", "--impl", "ours", "--json", "-q")
	if d.Ours == nil || d.Ours.Get.Ops != 3 || d.Ours.Put.Ops != 3 || d.Nodes != 40 {
		t.Fatalf("bench dht: %+v", d)
	}
	var s bench.SyncResult
	ok(t, &s, nil, "bench", "sync", "--size", "1", "--delta-size", "1", "--rows", "1", "--no-libtorrent", "--in-process", "--json", "-q")
	if s.Full.Bytes == 0 || len(s.Deltas) != 1 || s.Delta.RowsChanged != 1 {
		t.Fatalf("bench sync: %+v", s)
	}
	fails(t, 2, "--rows", nil, "bench", "sync", "--rows", "x")
}
