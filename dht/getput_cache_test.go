package dht

import (
	"testing"

	"github.com/dhtdb/dhtdb/dht/lookup"
)

func TestClientStateRemembersRecentTargets(t *testing.T) {
	var c clientState
	target := func(i int) [20]byte { return [20]byte{byte(i), byte(i >> 8)} }
	nodes := []lookup.Node{{ID: [20]byte{9}}}
	if c.recall(target(0)) != nil {
		t.Fatal("empty cache recalled something")
	}
	for i := range closestCacheSize {
		c.remember(target(i), nodes)
	}
	c.recall(target(0)) // target 0 is now recently used; 1 is the oldest
	c.remember(target(closestCacheSize), nodes)
	if c.recall(target(1)) != nil || c.recall(target(0)) == nil || c.recall(target(closestCacheSize)) == nil {
		t.Fatal("eviction did not drop the least recently used target")
	}
	if len(c.closest) != closestCacheSize {
		t.Fatalf("%d targets cached, want the cap %d", len(c.closest), closestCacheSize)
	}
	got := c.recall(target(0))
	got[0].ID[0] = 1 // callers get a copy
	if c.recall(target(0))[0].ID[0] != 9 {
		t.Fatal("recall returned the cache's own slice")
	}
	c.remember(target(0), nil)
	if c.recall(target(0)) != nil {
		t.Fatal("remember(nil) did not forget")
	}
}
