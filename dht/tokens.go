package dht

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"
)

// tokenLen is the length of the tokens we hand out.
const tokenLen = 8

// tokens issues and checks the write tokens of get_peers/announce_peer and
// get/put (BEP 5, BEP 44). The secret rotates every TokenRotation: the
// secret of rotation period e is SHA1(master || e), so no timer is needed. A
// token is bound to the requester's IP and accepted in the period it was
// issued and the next one, i.e. for 5 to 10 minutes.
type tokens struct {
	master [16]byte
}

func tokenPeriod(now time.Time) int64 { return now.Unix() / int64(TokenRotation/time.Second) }

func (t *tokens) make(ip netip.Addr, period int64) [tokenLen]byte {
	var buf [16 + 8 + 16]byte
	copy(buf[:16], t.master[:])
	binary.BigEndian.PutUint64(buf[16:24], uint64(period))
	a := ip.Unmap().As16()
	copy(buf[24:], a[:])
	sum := sha1.Sum(buf[:])
	return [tokenLen]byte(sum[:tokenLen])
}

// issue returns the token for a requester at ip.
func (t *tokens) issue(ip netip.Addr, now time.Time) []byte {
	tok := t.make(ip, tokenPeriod(now))
	return tok[:]
}

// valid reports whether tok was issued to ip in the current or the previous
// rotation period.
func (t *tokens) valid(tok []byte, ip netip.Addr, now time.Time) bool {
	if len(tok) != tokenLen {
		return false
	}
	p := tokenPeriod(now)
	cur, prev := t.make(ip, p), t.make(ip, p-1)
	return subtle.ConstantTimeCompare(tok, cur[:]) == 1 || subtle.ConstantTimeCompare(tok, prev[:]) == 1
}
