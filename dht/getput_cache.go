package dht

import (
	"sync"

	"github.com/dhtdb/dhtdb/dht/lookup"
)

// closestCacheSize bounds the targets whose closest nodes a node remembers.
const closestCacheSize = 256

// clientState is the client side's state in a Node: the closest nodes that
// answered the last lookup of recent targets. A repeated lookup of the same
// target (a reader polling a pointer) starts from them, so when nothing
// moved it asks little more than those K nodes, in one or two round trips,
// instead of walking the network again; if they left or closer nodes
// appeared, the lookup proceeds from there as usual. Its zero value is
// ready to use.
type clientState struct {
	mu      sync.Mutex
	closest map[[20]byte]*cachedClosest
	tick    uint64
}

type cachedClosest struct {
	nodes []lookup.Node
	used  uint64
}

// remember records the closest answering nodes of a finished lookup of
// target (none: forget the target). When full, the least recently used
// target is dropped.
func (c *clientState) remember(target [20]byte, nodes []lookup.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(nodes) == 0 {
		delete(c.closest, target)
		return
	}
	if c.closest == nil {
		c.closest = make(map[[20]byte]*cachedClosest)
	}
	c.tick++
	if _, ok := c.closest[target]; !ok && len(c.closest) >= closestCacheSize {
		var oldest [20]byte
		first := true
		for t, e := range c.closest {
			if first || e.used < c.closest[oldest].used {
				oldest, first = t, false
			}
		}
		delete(c.closest, oldest)
	}
	c.closest[target] = &cachedClosest{nodes: append([]lookup.Node(nil), nodes...), used: c.tick}
}

// recall returns the remembered closest nodes of target, if any.
func (c *clientState) recall(target [20]byte) []lookup.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.closest[target]
	if e == nil {
		return nil
	}
	c.tick++
	e.used = c.tick
	return append([]lookup.Node(nil), e.nodes...)
}
