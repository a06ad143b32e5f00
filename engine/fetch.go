package engine

import (
	"time"

	"github.com/dhtdb/dhtdb/record"
)

// candidates lists the versions worth fetching, newest first. A follower's
// are the pointer's ih and prev entries, stopping at the current local
// version (never go back), skipping versions that failed their check and
// duplicates. A journaled writer's is only the pointer's ih: it must build
// on the newest version, so an older one is no substitute. A writer without
// a journal fetches nothing: its working copy is the newest version.
func (f *Engine) candidates() []Hash {
	if f.st.Item == nil || f.cfg.Mode == Write {
		return nil
	}
	p := f.st.Pointer
	all := append([]Hash{p.IH}, p.Prev...)
	if len(all) > 1+record.MaxPrev {
		all = all[:1+record.MaxPrev]
	}
	if f.cfg.Mode == WriteJournaled {
		all = all[:1]
	}
	var out []Hash
	seen := map[Hash]bool{}
	for _, h := range all {
		if f.st.HasCurrent && h == f.st.Current {
			break
		}
		if seen[h] || f.bad[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	return out
}

// reconcile brings the fetches in line with the candidates: it cancels
// fetches no longer wanted, starts the newest candidate, falls back to the
// next older one when every newer fetch has stalled, retries failed fetches,
// and installs the newest completed one.
func (f *Engine) reconcile(out *actions, now time.Time) {
	cands := f.candidates()
	wanted := map[Hash]bool{}
	for _, h := range cands {
		wanted[h] = true
	}
	for _, h := range sortedHashes(f.attempts) {
		if !wanted[h] {
			if !f.attempts[h].done {
				out.add(Cancel{IH: h})
			}
			delete(f.attempts, h)
		}
	}
	for i, h := range cands {
		a := f.attempts[h]
		switch {
		case a == nil:
			a = &attempt{started: now}
			f.attempts[h] = a
			if i > 0 {
				out.add(Notice{Kind: NoticeFallback, Seq: f.st.Seq, IH: h})
			}
			out.add(f.fetch(h, i == 0))
		case a.failed && !now.Before(a.retryAt):
			a.failed, a.started = false, now
			out.add(f.fetch(h, i == 0))
		}
		if !a.done && !a.stalled && now.Sub(a.started) >= f.cfg.FetchTimeout {
			a.stalled = true
		}
		if a.done || !a.stalled {
			// The newest fetch that is still making progress (or has
			// completed): older candidates are not needed yet.
			break
		}
	}
	if f.installing || !f.canInstall() {
		return
	}
	for _, h := range cands {
		if a := f.attempts[h]; a != nil && a.done {
			if f.cfg.Mode == WriteJournaled {
				if now.Before(a.rebaseAt) {
					return
				}
				f.installing = true
				out.add(Rebase{IH: h, Seq: f.st.Seq})
				return
			}
			f.installing = true
			out.add(Install{IH: h})
			return
		}
	}
}

func (f *Engine) fetch(h Hash, newest bool) Fetch {
	fe := Fetch{IH: h, Base: f.st.Current, HasBase: f.st.HasCurrent}
	if newest && h == f.st.Pointer.IH {
		fe.Size = f.st.Pointer.Size
	}
	return fe
}

// onInstalled records h as the local version, if it is newer than the
// current one; older fetches are cancelled by the next reconcile, and the
// running fetches of newer versions start again with h as their delta base
// (they began from an older base, or from none).
func (f *Engine) onInstalled(out *actions, now time.Time, h Hash) {
	delete(f.attempts, h)
	newer := false
	for _, c := range f.candidates() {
		if c == h {
			newer = true
		}
	}
	if !newer {
		return
	}
	f.st.Current, f.st.HasCurrent = h, true
	out.dirty = true
	out.add(Notice{Kind: NoticeInstalled, Seq: f.st.Seq, IH: h})
	cands := f.candidates()
	for _, c := range cands {
		if a := f.attempts[c]; a != nil && a.done {
			return // a newer version is about to be installed: restart after it
		}
	}
	for i, c := range cands {
		a := f.attempts[c]
		if a == nil || a.failed { // a failed one restarts from h when retried
			continue
		}
		a.started = now
		out.add(Cancel{IH: c})
		out.add(f.fetch(c, i == 0))
	}
}

// sortedHashes returns the keys of m in byte order, so that the actions of
// one call come out in a deterministic order.
func sortedHashes(m map[Hash]*attempt) []Hash {
	out := make([]Hash, 0, len(m))
	for h := range m {
		out = append(out, h)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && string(out[j][:]) < string(out[j-1][:]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
