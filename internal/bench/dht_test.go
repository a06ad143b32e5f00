package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// smallDHTConfig is the default scenario on a network small enough for a test.
func smallDHTConfig(impls ...string) DHTConfig {
	cfg := DefaultDHTConfig()
	cfg.Nodes = 150
	cfg.Puts, cfg.Gets = 10, 10
	cfg.Impls = impls
	return cfg
}

func TestRunDHT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two 150-node networks (about 20 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := RunDHT(ctx, smallDHTConfig(ImplOurs, ImplAnacrolix), &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	var text strings.Builder
	res.WriteText(&text)
	t.Logf("\n%s", text.String())
	if res.Nodes != 150 || res.Seed != DefaultDHTSeed {
		t.Errorf("nodes %d seed %d", res.Nodes, res.Seed)
	}
	for name, r := range map[string]*ImplResult{ImplOurs: res.Ours, ImplAnacrolix: res.Anacrolix} {
		if r == nil || r.Error != "" {
			t.Fatalf("%s: result %+v\n%s", name, r, progress.String())
		}
		if r.Put.Ops != 10 || r.Get.Ops != 10 {
			t.Errorf("%s: %d puts, %d gets", name, r.Put.Ops, r.Get.Ops)
		}
		if r.Get.P50ms <= 0 || r.Get.P95ms < r.Get.P50ms || r.Put.P95ms < r.Put.P50ms ||
			r.Put.Msgs <= 0 || r.Get.Msgs <= 0 || r.TableMean <= 0 || r.Packets <= 0 {
			t.Errorf("%s: implausible figures %+v", name, r)
		}
		if r.Put.StoredMean < 0 || r.Put.StoredMean > closestK || r.Get.Success < 0 || r.Get.Success > 1 {
			t.Errorf("%s: ratios out of range %+v", name, r)
		}
	}
	// Ours must work on a lossy network with silent nodes; the threshold
	// is loose so that a busy machine never makes it flaky.
	if o := res.Ours; o.Get.Success < 0.7 || o.Put.Success < 0.7 || o.Put.StoredMean < 4 {
		t.Errorf("ours: get success %.2f, put success %.2f, stored %.2f", o.Get.Success, o.Put.Success, o.Put.StoredMean)
	}
	if res.Ratio == nil || res.Ratio.GetP50 <= 0 {
		t.Errorf("ratio %+v", res.Ratio)
	}
	checkShape(t, res)
}

// checkShape checks the JSON keys of `dhtdb bench dht --json`.
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

func TestRunDHTClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 150-node network (about 10 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := RunDHT(ctx, smallDHTConfig(ImplAnacrolixClient), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := res.AnacrolixClient
	if c == nil || c.Error != "" || res.Ours != nil || res.Anacrolix != nil || res.Ratio != nil {
		t.Fatalf("result %+v", res)
	}
	// anacrolix's client finds and stores fine when the routing answers
	// are right; a loose bound keeps this from flaking.
	if c.Get.Success < 0.5 || c.Put.StoredMean < 3 || c.Get.Ops != 10 {
		t.Errorf("anacrolix client on our network: %+v", c)
	}
}

func TestDHTConfigValidate(t *testing.T) {
	for _, c := range []DHTConfig{
		{Nodes: 10},
		{Nodes: 100, MinRTT: 2 * time.Second, MaxRTT: time.Second},
		{Nodes: 100, Loss: 1},
		{Nodes: 100, Silent: 0.9},
		{Nodes: 100, Impls: []string{"bittorrent"}},
		{Nodes: 100, Impls: []string{ImplOurs, ImplOurs}},
	} {
		if _, err := RunDHT(context.Background(), c, nil); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestContacts(t *testing.T) {
	b := &benchNet{}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 500; i++ {
		var id [20]byte
		for k := range id {
			id[k] = byte(rng.Uint32())
		}
		b.ids = append(b.ids, id)
		b.addrs = append(b.addrs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 1))
	}
	cs := b.contacts(0, rng)
	perPrefix := map[int]int{}
	for _, c := range cs {
		if c.id == b.ids[0] {
			t.Fatal("a node is its own contact")
		}
		perPrefix[commonPrefix(b.ids[0], c.id)]++
	}
	// 500 random ids: about 250 share no bit with node 0, 125 one bit, ...
	for p := 0; p < 4; p++ {
		if perPrefix[p] != bucketK {
			t.Errorf("prefix %d: %d contacts, want %d", p, perPrefix[p], bucketK)
		}
	}
	for p, k := range perPrefix {
		if k > bucketK {
			t.Errorf("prefix %d: %d contacts", p, k)
		}
	}
}
