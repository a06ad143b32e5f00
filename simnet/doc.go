// Package simnet is an in-process simulated UDP network: thousands of
// endpoints in one process, each a net.PacketConn that behaves like a
// *net.UDPConn, with latency, packet loss and silent endpoints.
//
// It is the one fake in dhtdb: the DHT node runs on it unchanged (it only
// sees a net.PacketConn), which lets tests and the DHT benchmark build
// networks of thousands of nodes without opening thousands of sockets.
// Nothing here touches the operating system's network; addresses are virtual
// 127.x.y.z addresses handed out by the Network.
//
// Model:
//
//   - Latency. Every unordered pair of addresses {a, b} has a round-trip time
//     drawn uniformly from [MinRTT, MaxRTT] by hashing the seed and the two
//     addresses, so the topology is the same in every run with the same seed
//     and both directions see the same delay. A packet is delivered RTT/2
//     after it was written. Time is real (the latency is felt by the code
//     under test), but one scheduler goroutine with a heap delivers all
//     packets, so there is no goroutine or timer per packet. With a zero
//     RTT a packet is delivered before WriteTo returns.
//   - Loss. Each packet is dropped with probability Loss, decided by a random
//     source seeded from Seed (no global randomness).
//   - Silent endpoints (SetSilent) neither send nor receive: their packets
//     vanish, and so do packets addressed to them. They model nodes that
//     left the network or sit behind a firewall.
//   - Receive queue. Each endpoint queues at most QueueLen packets; further
//     packets are dropped, as a full socket buffer would.
//
// Conns follow net.UDPConn's contract: ReadFrom returns a *net.UDPAddr;
// WriteTo accepts a *net.UDPAddr or any net.Addr whose String() is
// "ip:port"; read deadlines produce errors whose Timeout() is true
// (os.ErrDeadlineExceeded inside a *net.OpError); Close unblocks readers
// with an error that wraps net.ErrClosed. Conns also have the netip
// variants ReadFromUDPAddrPort and WriteToUDPAddrPort.
//
// Stats counts packets and bytes sent, delivered and dropped (by reason), for
// the whole network and per endpoint.
package simnet
