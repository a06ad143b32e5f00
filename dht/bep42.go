package dht

import (
	"hash/crc32"
	"net/netip"
	"slices"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bep42Exempt reports whether ip is exempt from BEP 42: loopback, private,
// link-local and other non-global addresses.
func bep42Exempt(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || !ip.IsGlobalUnicast()
}

// bep42Prefix returns the CRC32-C of the masked ip with r (0..7) mixed in,
// whose top 21 bits a BEP 42 node id starts with.
func bep42Prefix(ip netip.Addr, r byte) uint32 {
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		mask := [4]byte{0x03, 0x0f, 0x3f, 0xff}
		for i := range a {
			a[i] &= mask[i]
		}
		a[0] |= r << 5
		return crc32.Checksum(a[:], castagnoli)
	}
	a := ip.As16()
	mask := [8]byte{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff}
	var b [8]byte
	for i := range b {
		b[i] = a[i] & mask[i]
	}
	b[0] |= r << 5
	return crc32.Checksum(b[:], castagnoli)
}

// bep42ID returns a node id for ip following BEP 42; rnd supplies the random
// bits (the last byte's low 3 bits are r).
func bep42ID(ip netip.Addr, rnd [20]byte) [20]byte {
	id := rnd
	r := id[19] & 7
	crc := bep42Prefix(ip, r)
	id[0] = byte(crc >> 24)
	id[1] = byte(crc >> 16)
	id[2] = byte(crc>>8)&0xf8 | id[2]&0x07
	return id
}

// bep42Valid reports whether id is a valid BEP 42 id for ip. Exempt
// addresses accept any id.
func bep42Valid(id [20]byte, ip netip.Addr) bool {
	if bep42Exempt(ip) {
		return true
	}
	crc := bep42Prefix(ip, id[19]&7)
	return id[0] == byte(crc>>24) && id[1] == byte(crc>>16) && id[2]&0xf8 == byte(crc>>8)&0xf8
}

// bep42Votes is how many distinct nodes must report the same external IP
// (the BEP 42 `ip` field of their answers) before we believe it.
const bep42Votes = 3

// maxVoters bounds the nodes whose votes are remembered.
const maxVoters = 64

// externalIP collects the votes on our external IP.
type externalIP struct {
	voters map[netip.Addr]netip.Addr // voter -> the IP it reported
	votes  map[netip.Addr]int
	agreed netip.Addr // the IP with bep42Votes votes, if any
}

// voteExternalLocked records that voter saw us at ip. n.mu must be held.
func (n *Node) voteExternalLocked(voter, ip netip.Addr) {
	e := &n.ext
	ip = ip.Unmap()
	if _, seen := e.voters[voter]; seen || len(e.voters) >= maxVoters {
		return
	}
	if e.voters == nil {
		e.voters, e.votes = make(map[netip.Addr]netip.Addr), make(map[netip.Addr]int)
	}
	e.voters[voter] = ip
	e.votes[ip]++
	if e.votes[ip] >= bep42Votes && !e.agreed.IsValid() {
		e.agreed = ip
	}
}

// adoptBEP42ID switches to a BEP 42 id when the node chose its own id
// (Config.ID zero), enough nodes agree on a public external IP, and the
// current id does not match it. The routing table is rebuilt around the
// new id. It reports whether the id changed.
func (n *Node) adoptBEP42ID() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := n.ext.agreed
	if n.cfg.ID != ([20]byte{}) || !ip.IsValid() || bep42Exempt(ip) || bep42Valid(n.id, ip) {
		return false
	}
	var rnd [20]byte
	n.fillRand(rnd[:])
	n.id = bep42ID(ip, rnd)
	old := n.table
	n.table = newTable(n.id, n.cfg.MaxFails, n.clock.Now())
	// Re-insert the old nodes; a bucket that is full under the new id keeps
	// the rest in its replacement cache.
	for _, b := range old.buckets {
		for _, e := range slices.Concat(b.nodes, b.repl) {
			n.table.seen(e.id, e.addr, e.lastSeen, e.confirmed)
		}
	}
	n.log.Info("dht: adopted a BEP 42 node id", "ip", ip, "id", n.id)
	return true
}
