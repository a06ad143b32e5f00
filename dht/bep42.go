package dht

import (
	"hash/crc32"
	"net/netip"
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
