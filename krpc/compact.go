package krpc

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// CompactAddr encodes an address as 6 (IPv4) or 18 (IPv6) bytes: the IP then
// the port, big-endian.
func CompactAddr(a netip.AddrPort) []byte {
	return AppendCompactAddr(nil, a)
}

// AppendCompactAddr appends the compact form of a to dst.
func AppendCompactAddr(dst []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	dst = append(dst, ip.AsSlice()...)
	return binary.BigEndian.AppendUint16(dst, a.Port())
}

// ParseCompactAddr decodes a 6- or 18-byte compact address.
func ParseCompactAddr(b []byte) (netip.AddrPort, error) {
	switch len(b) {
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:])), nil
	case 18:
		ip := netip.AddrFrom16([16]byte(b[:16])).Unmap()
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[16:])), nil
	}
	return netip.AddrPort{}, fmt.Errorf("%w: compact address of %d bytes", ErrMalformed, len(b))
}

// AppendCompactNodes appends the compact node info of nodes: 26 bytes per
// IPv4 node, 38 bytes per IPv6 node. The caller puts IPv4 nodes in `nodes` and
// IPv6 nodes in `nodes6`.
func AppendCompactNodes(dst []byte, nodes []NodeInfo) []byte {
	for _, n := range nodes {
		dst = append(dst, n.ID[:]...)
		dst = AppendCompactAddr(dst, n.Addr)
	}
	return dst
}

// ParseCompactNodes decodes a compact node list whose entries are 20+addrLen
// bytes (addrLen 6 for `nodes`, 18 for `nodes6`).
func ParseCompactNodes(b []byte, addrLen int) ([]NodeInfo, error) {
	size := 20 + addrLen
	if len(b)%size != 0 {
		return nil, fmt.Errorf("%w: node list of %d bytes is not a multiple of %d", ErrMalformed, len(b), size)
	}
	if len(b) == 0 {
		return nil, nil
	}
	out := make([]NodeInfo, 0, len(b)/size)
	for i := 0; i < len(b); i += size {
		var n NodeInfo
		copy(n.ID[:], b[i:i+20])
		a, err := ParseCompactAddr(b[i+20 : i+size])
		if err != nil {
			return nil, err
		}
		n.Addr = a
		out = append(out, n)
	}
	return out, nil
}
