// Package bench holds dhtdb's benchmarks: programs that print figures, run
// by `dhtdb bench ...`, not timed tests.
//
// The DHT benchmark (RunDHT, `dhtdb bench dht`) builds networks of the same
// shape on the simulated network of package simnet: one of our dht nodes
// ("ours"), one of anacrolix/dht v2.24.0 servers ("anacrolix"), and one of
// our nodes in which every 8th node is an anacrolix server and only those
// originate the operations ("anacrolix-client"). All get the same seed, so
// the same node ids, virtual addresses, per-pair round-trip times, loss
// pattern seed and silent set. On each it runs the same puts and gets of
// BEP 44 mutable items and measures, per operation kind, latency (p50/p95),
// success ratio, how many of the 8 closest live nodes hold a put item, and
// the KRPC queries the operation cost.
//
// How the network is built: all node ids and addresses are drawn up front
// from the seed and every node is started. Each node is then given, for
// every length of id prefix it shares with other nodes, up to 8 of those
// nodes drawn at random (what a Kademlia table of a node that has been in the
// network for a while holds: about 70 contacts at 2000 nodes), and pings
// them, 500 nodes at a time with 16 pings each in flight. A contact that
// answers enters the node's routing table and, the ping being a query, the
// node enters the contact's. This takes about 30 s at 2000 nodes, the same
// for both libraries, instead of minutes of iterative joins, and gives
// tables as full as a long-running network's. Only then are 20% of the nodes
// silenced: they stay in routing tables but no longer answer, like nodes
// that left.
//
// How it measures: latency is the wall time of the library call, failed
// operations included at the time they gave up. The simulated network runs
// in real time, so a loaded machine adds scheduling delay to every hop and
// raises all figures; compare networks within one run. Every operation has
// its own origin node, so no per-target client cache can help. Messages are the KRPC
// queries the originating node sent during the operation, counted by a
// simnet tap (concurrent operations always have distinct origins). "Stored"
// is checked independently of what the put reports: after each put a probe
// endpoint (read-only, BEP 43, so it never enters routing tables) sends a
// `get` to each of the 8 live nodes whose ids are truly closest to the
// target (computed from the full node list, the origin excluded) and counts
// those that return the item. A put succeeds when at least one of them holds
// it; a get succeeds when it returns the put value with its seq.
//
// anacrolix/dht keeps a package-level send limiter (DefaultSendLimiter, 250
// packets/s with a burst of 25) shared by every server in the process;
// thousands of servers in one process would starve on it, so each server
// gets its own unlimited limiter (ServerConfig.SendLimiter =
// rate.NewLimiter(rate.Inf, 0)). Everything else is anacrolix's default
// server config (NewDefaultServerConfig: no BEP 42 security, nodes+nodes6
// wants, in-memory store) and its default query timeout (one send, 2 s).
// Its operations are exts/getput.Get and getput.Put.
//
// Why the third network: anacrolix v2.24.0 answers find_node and get with
// the nodes closest to the query's info_hash (absent in those queries, so
// the zero id) instead of its target (server.go, setReturnNodes). In the
// field, where most nodes are libtorrent's, this hardly shows; in a network
// of anacrolix nodes only, lookups cannot converge and end near the
// origin's own routing table. "anacrolix-client" measures anacrolix's
// lookups and getput where routing answers are right, so the latency
// comparison with ours is one of client algorithms.
package bench
