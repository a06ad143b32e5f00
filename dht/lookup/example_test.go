package lookup_test

import (
	"fmt"
	"net/netip"

	"github.com/dhtdb/dhtdb/dht/lookup"
)

// A lookup driven by hand: the driver sends what Next returns and feeds
// back what happened.
func Example() {
	node := func(b byte) lookup.Node {
		return lookup.Node{ID: [20]byte{0: b}, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 1000+uint16(b))}
	}
	l, err := lookup.New(lookup.Config{Target: [20]byte{}, K: 2, Alpha: 2}, []lookup.Node{node(40), node(50)})
	if err != nil {
		panic(err)
	}
	fmt.Println("ask", len(l.Next()))                                         // 40 and 50
	l.OnResponse(node(40).Addr, node(40).ID, []lookup.Node{node(3), node(9)}) // closer nodes
	l.OnStalled(node(50).Addr)                                                // slow: ask someone else too
	for _, n := range l.Next() {
		fmt.Println("ask", n.ID[0])
		l.OnResponse(n.Addr, n.ID, nil)
	}
	fmt.Println("done", l.Done())
	for _, n := range l.Closest() {
		fmt.Println("closest", n.ID[0])
	}
	// Output:
	// ask 2
	// ask 3
	// ask 9
	// done true
	// closest 3
	// closest 9
}
