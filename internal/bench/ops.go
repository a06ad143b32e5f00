package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
)

// benchSalt is the salt of every benchmark item.
var benchSalt = []byte("dhtdb-bench")

// runOps runs cfg.Puts puts, then cfg.Gets gets of the put items, from
// distinct live origins (wrapping around when there are fewer live nodes
// than operations).
func (b *benchNet) runOps(ctx context.Context, rng *rand.Rand, pr *prober, name string, progress io.Writer) (puts, gets []opRecord) {
	items := make([]bep44.Item, b.cfg.Puts)
	for i := range items {
		var seed [ed25519.SeedSize]byte
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		v := fmt.Sprintf("dhtdb bench item %d", i)
		it, err := bep44.NewMutable(ed25519.NewKeyFromSeed(seed[:]), benchSalt, 1, fmt.Appendf(nil, "%d:%s", len(v), v))
		if err != nil {
			panic(err) // a constant-shaped item always signs
		}
		items[i] = it
	}
	var origins []int
	for _, k := range rng.Perm(len(b.live)) {
		if i := b.live[k]; b.impl.origin(i) {
			origins = append(origins, i)
		}
	}
	origin := func(k int) int { return origins[k%len(origins)] }

	puts = make([]opRecord, len(items))
	parallel(ctx, len(items), b.cfg.Concurrency, func(i int) {
		o := origin(i)
		octx, cancel := context.WithTimeout(ctx, b.cfg.OpTimeout)
		defer cancel()
		q0 := b.queries[b.addrs[o]].Load()
		start := time.Now()
		reported, err := b.nodes[o].put(octx, items[i])
		rec := opRecord{dur: time.Since(start), reported: reported}
		rec.msgs = b.queries[b.addrs[o]].Load() - q0
		_ = err // success is judged by the probe, not by what the library says
		closest := b.closestLive(items[i].Target(), o)
		addrs := make([]netip.AddrPort, len(closest))
		for k, c := range closest {
			addrs[k] = b.addrs[c]
		}
		rec.stored = pr.countHolders(ctx, addrs, items[i])
		rec.ok = rec.stored > 0
		puts[i] = rec
	})
	fmt.Fprintf(progress, "%s: %d puts done\n", name, len(puts))

	gets = make([]opRecord, b.cfg.Gets)
	parallel(ctx, len(gets), b.cfg.Concurrency, func(j int) {
		it := items[j%len(items)]
		o := origin(len(items) + j)
		octx, cancel := context.WithTimeout(ctx, b.cfg.OpTimeout)
		defer cancel()
		q0 := b.queries[b.addrs[o]].Load()
		start := time.Now()
		v, seq, err := b.nodes[o].get(octx, it.K, it.Salt)
		rec := opRecord{dur: time.Since(start)}
		rec.msgs = b.queries[b.addrs[o]].Load() - q0
		rec.ok = err == nil && seq == it.Seq && bytes.Equal(v, it.V)
		gets[j] = rec
	})
	fmt.Fprintf(progress, "%s: %d gets done\n", name, len(gets))
	return puts, gets
}

// closestLive returns the indices of the closestK live nodes closest to
// target by XOR distance, the origin excluded.
func (b *benchNet) closestLive(target [20]byte, origin int) []int {
	cand := make([]int, 0, len(b.live))
	for _, i := range b.live {
		if i != origin {
			cand = append(cand, i)
		}
	}
	slices.SortFunc(cand, func(x, y int) int {
		for k := range target {
			dx, dy := b.ids[x][k]^target[k], b.ids[y][k]^target[k]
			if dx != dy {
				if dx < dy {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	return cand[:min(closestK, len(cand))]
}

func putStats(recs []opRecord) PutStats {
	s := PutStats{Ops: len(recs)}
	if len(recs) == 0 {
		return s
	}
	s.P50ms, s.P95ms, s.MeanMs = latencies(recs)
	var ok, stored, msgs, reported int64
	for _, r := range recs {
		if r.ok {
			ok++
		}
		stored += int64(r.stored)
		msgs += r.msgs
		reported += int64(r.reported)
	}
	n := float64(len(recs))
	s.Success = float64(ok) / n
	s.StoredMean = float64(stored) / n
	s.Msgs = float64(msgs) / n
	s.Reported = float64(reported) / n
	if recs[0].reported < 0 {
		s.Reported = -1
	}
	return s
}

func getStats(recs []opRecord) GetStats {
	s := GetStats{Ops: len(recs)}
	if len(recs) == 0 {
		return s
	}
	s.P50ms, s.P95ms, s.MeanMs = latencies(recs)
	var ok, msgs int64
	for _, r := range recs {
		if r.ok {
			ok++
		}
		msgs += r.msgs
	}
	s.Success = float64(ok) / float64(len(recs))
	s.Msgs = float64(msgs) / float64(len(recs))
	return s
}

// latencies returns the nearest-rank p50 and p95 and the mean, in ms.
func latencies(recs []opRecord) (p50, p95, mean float64) {
	d := make([]time.Duration, len(recs))
	var sum time.Duration
	for i, r := range recs {
		d[i] = r.dur
		sum += r.dur
	}
	slices.Sort(d)
	rank := func(p float64) float64 {
		k := int(p*float64(len(d))+0.999999) - 1
		return ms(d[max(0, min(k, len(d)-1))])
	}
	return rank(0.50), rank(0.95), ms(sum) / float64(len(d))
}
