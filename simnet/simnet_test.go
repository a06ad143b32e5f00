package simnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

func listen(t *testing.T, n *Network) net.PacketConn {
	t.Helper()
	c, err := n.Listen(netip.AddrPort{})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return c
}

func readWithin(t *testing.T, c net.PacketConn, d time.Duration) ([]byte, net.Addr, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 2048)
	n, from, err := c.ReadFrom(b)
	return b[:n], from, err
}

// strAddr is a net.Addr that is not a *net.UDPAddr.
type strAddr string

func (a strAddr) Network() string { return "udp" }
func (a strAddr) String() string  { return string(a) }

func TestDelivery(t *testing.T) {
	n := New(Config{Seed: 1})
	defer n.Close()
	a, b := listen(t, n), listen(t, n)
	if _, err := a.WriteTo([]byte("hello"), b.LocalAddr()); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, from, err := readWithin(t, b, 10*time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != "hello" {
		t.Errorf("payload %q, want hello", got)
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		t.Fatalf("from is %T, want *net.UDPAddr", from)
	}
	if ua.String() != a.LocalAddr().String() {
		t.Errorf("from %v, want %v", ua, a.LocalAddr())
	}
	// Any net.Addr whose String parses works too.
	if _, err := b.WriteTo([]byte("back"), strAddr(a.LocalAddr().String())); err != nil {
		t.Fatalf("write to string addr: %v", err)
	}
	if got, _, err := readWithin(t, a, 10*time.Second); err != nil || string(got) != "back" {
		t.Fatalf("read back: %q, %v", got, err)
	}
	st := n.Stats()
	if st.Sent != 2 || st.Delivered != 2 || st.Dropped != 0 || st.SentBytes != 9 {
		t.Errorf("stats %+v", st)
	}
	if es, ok := n.EndpointStats(a.LocalAddr().(*net.UDPAddr).AddrPort()); !ok || es.Sent != 1 || es.Delivered != 1 {
		t.Errorf("endpoint stats %+v %v", es, ok)
	}
}

func TestDelayWithinBounds(t *testing.T) {
	const minRTT, maxRTT = 40 * time.Millisecond, 120 * time.Millisecond
	n := New(Config{Seed: 7, MinRTT: minRTT, MaxRTT: maxRTT})
	defer n.Close()
	dst := listen(t, n)
	dstAddr := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := 0; i < 8; i++ {
		src := listen(t, n)
		srcAddr := src.LocalAddr().(*net.UDPAddr).AddrPort()
		rtt := n.RTT(srcAddr, dstAddr)
		if rtt < minRTT || rtt > maxRTT {
			t.Fatalf("rtt %v outside [%v, %v]", rtt, minRTT, maxRTT)
		}
		if n.RTT(dstAddr, srcAddr) != rtt {
			t.Fatalf("rtt not symmetric")
		}
		start := time.Now()
		src.WriteTo([]byte("x"), dst.LocalAddr())
		if _, _, err := readWithin(t, dst, 10*time.Second); err != nil {
			t.Fatalf("read: %v", err)
		}
		// Never earlier than RTT/2; later only by scheduling noise, which
		// this test does not bound tightly.
		if el := time.Since(start); el < rtt/2 || el > rtt/2+5*time.Second {
			t.Errorf("delivered after %v, want about %v", el, rtt/2)
		}
	}
}

func TestRTTDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, MinRTT: 40 * time.Millisecond, MaxRTT: 300 * time.Millisecond}
	n1, n2, n3 := New(cfg), New(cfg), New(Config{Seed: 43, MinRTT: cfg.MinRTT, MaxRTT: cfg.MaxRTT})
	defer n1.Close()
	defer n2.Close()
	defer n3.Close()
	differ := 0
	var sum time.Duration
	const pairs = 500
	for i := 0; i < pairs; i++ {
		a, b := n1.NewAddr(), n1.NewAddr()
		r := n1.RTT(a, b)
		if n2.RTT(a, b) != r {
			t.Fatalf("same seed, different RTT for %v %v", a, b)
		}
		if n3.RTT(a, b) != r {
			differ++
		}
		sum += r
	}
	if differ < pairs/2 {
		t.Errorf("another seed changed only %d of %d RTTs", differ, pairs)
	}
	// Uniform on [40, 300] ms has mean 170 ms.
	if mean := sum / pairs; mean < 140*time.Millisecond || mean > 200*time.Millisecond {
		t.Errorf("mean RTT %v, want about 170ms", mean)
	}
}

func TestLossRate(t *testing.T) {
	const loss, packets = 0.1, 20000
	n := New(Config{Seed: 3, Loss: loss, QueueLen: packets})
	defer n.Close()
	a, b := listen(t, n), listen(t, n)
	for i := 0; i < packets; i++ {
		a.WriteTo([]byte("p"), b.LocalAddr())
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.Stats().InFlight > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := n.Stats()
	rate := float64(st.DroppedLoss) / packets
	if rate < 0.08 || rate > 0.12 {
		t.Errorf("loss rate %.3f, want about %.2f", rate, loss)
	}
	if st.Delivered+st.Dropped != packets {
		t.Errorf("delivered %d + dropped %d != %d", st.Delivered, st.Dropped, packets)
	}
}

func TestSilent(t *testing.T) {
	n := New(Config{Seed: 1})
	defer n.Close()
	a, b := listen(t, n), listen(t, n)
	aAddr := a.LocalAddr().(*net.UDPAddr).AddrPort()
	bAddr := b.LocalAddr().(*net.UDPAddr).AddrPort()

	n.SetSilent(bAddr, true)
	a.WriteTo([]byte("to silent"), b.LocalAddr())
	if _, err := b.WriteTo([]byte("from silent"), a.LocalAddr()); err != nil {
		t.Fatalf("a silent endpoint's write must look successful: %v", err)
	}
	for _, c := range []net.PacketConn{a, b} {
		if _, _, err := readWithin(t, c, 100*time.Millisecond); !isTimeout(err) {
			t.Errorf("silent traffic arrived: %v", err)
		}
	}
	if st := n.Stats(); st.DroppedSilent != 2 {
		t.Errorf("dropped silent %d, want 2", st.DroppedSilent)
	}

	n.SetSilent(bAddr, false)
	a.WriteTo([]byte("again"), net.UDPAddrFromAddrPort(bAddr))
	if got, _, err := readWithin(t, b, 10*time.Second); err != nil || string(got) != "again" {
		t.Errorf("after un-silencing: %q %v", got, err)
	}
	_ = aAddr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestDeadlines(t *testing.T) {
	n := New(Config{Seed: 1})
	defer n.Close()
	c := listen(t, n)
	start := time.Now()
	if _, _, err := readWithin(t, c, 50*time.Millisecond); !isTimeout(err) {
		t.Fatalf("want timeout, got %v", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("read timed out early")
	}

	// Moving the deadline into the past unblocks a blocked read.
	c.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-errc:
		if !isTimeout(err) {
			t.Errorf("want timeout, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read not unblocked by a past deadline")
	}

	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.WriteTo([]byte("x"), c.LocalAddr()); !isTimeout(err) {
		t.Errorf("write past deadline: %v", err)
	}
	c.SetDeadline(time.Time{})
	if _, err := c.WriteTo([]byte("x"), c.LocalAddr()); err != nil {
		t.Errorf("write after clearing the deadline: %v", err)
	}
}

func TestClose(t *testing.T) {
	n := New(Config{Seed: 1})
	defer n.Close()
	c := listen(t, n)
	addr := c.LocalAddr().(*net.UDPAddr).AddrPort()
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not unblock the reader")
	}
	if _, err := c.WriteTo([]byte("x"), c.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
	// The address is free again.
	c2, err := n.Listen(addr)
	if err != nil {
		t.Fatalf("relisten: %v", err)
	}
	n.Close()
	if _, _, err := c2.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after network close: %v", err)
	}
}

func TestQueueFull(t *testing.T) {
	n := New(Config{Seed: 1, QueueLen: 4})
	defer n.Close()
	a, b := listen(t, n), listen(t, n)
	for i := 0; i < 10; i++ {
		a.WriteTo([]byte{byte(i)}, b.LocalAddr())
	}
	if st := n.Stats(); st.Delivered != 4 || st.DroppedQueue != 6 {
		t.Errorf("stats %+v, want 4 delivered, 6 dropped", st)
	}
	for i := 0; i < 4; i++ {
		got, _, err := readWithin(t, b, time.Second)
		if err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("packet %d: %v %v", i, got, err)
		}
	}
}

func TestListenAndWriteErrors(t *testing.T) {
	n := New(Config{Seed: 1})
	defer n.Close()
	if _, err := n.Listen(netip.MustParseAddrPort("10.0.0.1:1")); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("non-loopback listen: %v", err)
	}
	ap := netip.MustParseAddrPort("127.9.9.9:1000")
	c, err := n.Listen(ap)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if _, err := n.Listen(ap); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("double listen: %v", err)
	}
	c0, err := n.Listen(netip.MustParseAddrPort("127.9.9.9:0"))
	if err != nil || c0.LocalAddr().(*net.UDPAddr).Port == 0 {
		t.Errorf("port 0: %v %v", c0, err)
	}
	if _, err := c.WriteTo([]byte("x"), strAddr("not an address")); !errors.Is(err, ErrBadAddr) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := c.WriteTo([]byte("x"), strAddr("[::1]:5")); !errors.Is(err, ErrBadAddr) {
		t.Errorf("ipv6 address: %v", err)
	}
	if _, err := c.WriteTo(make([]byte, MaxPacketSize+1), c.LocalAddr()); !errors.Is(err, ErrTooBig) {
		t.Errorf("big packet: %v", err)
	}
	// Nobody listens at a foreign address: the packet vanishes.
	if _, err := c.WriteTo([]byte("x"), strAddr("127.200.0.1:9")); err != nil {
		t.Errorf("write to nowhere: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if st := n.Stats(); st.DroppedUnreachable != 1 {
		t.Errorf("unreachable %d, want 1", st.DroppedUnreachable)
	}
}

func TestManyEndpoints(t *testing.T) {
	const endpoints, rounds = 2000, 5
	n := New(Config{Seed: 9, MinRTT: 2 * time.Millisecond, MaxRTT: 20 * time.Millisecond})
	defer n.Close()
	conns := make([]net.PacketConn, endpoints)
	for i := range conns {
		conns[i] = listen(t, n)
	}
	var wg sync.WaitGroup
	received := make([]int, endpoints)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 100)
			for received[i] < rounds {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, _, err := c.ReadFrom(b); err != nil {
					return
				}
				received[i]++
			}
		}()
	}
	for r := 0; r < rounds; r++ {
		for i, c := range conns {
			c.WriteTo([]byte("ping"), conns[(i+1+r*7)%endpoints].LocalAddr())
		}
	}
	wg.Wait()
	for i, got := range received {
		if got != rounds {
			t.Fatalf("endpoint %d received %d of %d", i, got, rounds)
		}
	}
}

func TestTap(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	n := New(Config{Seed: 1, Loss: 1, Tap: func(from, to netip.AddrPort, p []byte) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, from.String()+">"+to.String()+":"+string(p))
	}})
	defer n.Close()
	a, b := listen(t, n), listen(t, n)
	a.WriteTo([]byte("lost anyway"), b.LocalAddr())
	want := a.LocalAddr().String() + ">" + b.LocalAddr().String() + ":lost anyway"
	mu.Lock()
	defer mu.Unlock()
	// The tap sees packets before loss is applied.
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("tap saw %q, want [%q]", seen, want)
	}
	if st := n.Stats(); st.DroppedLoss != 1 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkDelivery measures packets per second through the scheduler: 1000
// endpoints, each packet with a 1-10 ms delay.
func BenchmarkDelivery(b *testing.B) {
	n := New(Config{Seed: 1, MinRTT: 2 * time.Millisecond, MaxRTT: 20 * time.Millisecond, QueueLen: 1 << 16})
	defer n.Close()
	conns := make([]net.PacketConn, 1000)
	for i := range conns {
		c, err := n.Listen(netip.AddrPort{})
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	var got sync.WaitGroup
	for _, c := range conns {
		go func() {
			buf := make([]byte, 100)
			for {
				if _, _, err := c.ReadFrom(buf); err != nil {
					return
				}
				got.Done()
			}
		}()
	}
	payload := make([]byte, 100)
	b.ResetTimer()
	got.Add(b.N)
	for i := 0; i < b.N; i++ {
		conns[i%len(conns)].WriteTo(payload, conns[(i*7+1)%len(conns)].LocalAddr())
	}
	got.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
