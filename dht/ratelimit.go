package dht

import (
	"net/netip"
	"time"
)

// maxLimiterSources bounds the sources the rate limiter tracks.
const maxLimiterSources = 4096

// rateLimiter is a per-source token bucket on incoming queries. It belongs to
// one node (no package-level limiter) and is guarded by the node's lock. The
// map is allocated on first use.
type rateLimiter struct {
	rate    float64 // tokens per second; <= 0: unlimited
	burst   float64
	byIP    bool
	sources map[netip.AddrPort]*sourceBucket
}

type sourceBucket struct {
	tokens float64
	last   time.Time
}

func (r *rateLimiter) key(from netip.AddrPort) netip.AddrPort {
	if r.byIP {
		return netip.AddrPortFrom(from.Addr(), 0)
	}
	return from
}

// allow reports whether a query from from may be answered now, and takes a
// token if so.
func (r *rateLimiter) allow(from netip.AddrPort, now time.Time) bool {
	if r.rate <= 0 {
		return true
	}
	k := r.key(from)
	s := r.sources[k]
	if s == nil {
		if r.sources == nil {
			r.sources = make(map[netip.AddrPort]*sourceBucket)
		}
		if len(r.sources) >= maxLimiterSources {
			r.prune(now)
		}
		s = &sourceBucket{tokens: r.burst, last: now}
		r.sources[k] = s
	}
	if el := now.Sub(s.last).Seconds(); el > 0 {
		s.tokens = min(r.burst, s.tokens+el*r.rate)
		s.last = now
	}
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// prune forgets the sources whose bucket has refilled; if none has, it
// forgets all (a flood of distinct sources must not grow memory).
func (r *rateLimiter) prune(now time.Time) {
	full := time.Duration(r.burst / r.rate * float64(time.Second))
	for k, s := range r.sources {
		if now.Sub(s.last) >= full {
			delete(r.sources, k)
		}
	}
	if len(r.sources) >= maxLimiterSources {
		clear(r.sources)
	}
}
