package lookup

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Scripted scenarios. Nodes are named by their rank: node "5" has an id
// whose first byte is 5 (the target is zero, so rank is distance) and the
// address 127.0.0.1:1005. "5@7" is id 5 at node 7's address, "5/0" id 5 at
// port 0, "self" our own id (0xee...).
//
// Commands, one per line:
//
//	seed N...          start the lookup with these seeds (first line)
//	next N...          Next must return exactly these nodes ("next" alone: none)
//	resp N: M...       N answers, reporting M...
//	respid N as M: ..  N answers with id M
//	err N | stall N | timeout N
//	done | notdone
//	closest N...       Closest must return exactly these
//	stats q r f i s    queries, replies, failed, in flight, stalled

var self = [20]byte{0: 0xee, 19: 1}

func parseNode(t *testing.T, s string) Node {
	t.Helper()
	if s == "self" {
		return Node{ID: self, Addr: netip.MustParseAddrPort("127.0.0.1:2000")}
	}
	idPart, addrPart, port := s, s, -1
	if i := strings.IndexByte(s, '@'); i >= 0 {
		idPart, addrPart = s[:i], s[i+1:]
	}
	if i := strings.IndexByte(idPart, '/'); i >= 0 {
		p, err := strconv.Atoi(idPart[i+1:])
		if err != nil {
			t.Fatalf("bad node %q", s)
		}
		idPart, addrPart, port = idPart[:i], idPart[:i], p
	}
	rank, err1 := strconv.Atoi(idPart)
	arank, err2 := strconv.Atoi(addrPart)
	if err1 != nil || err2 != nil || rank > 255 {
		t.Fatalf("bad node %q", s)
	}
	if port < 0 {
		port = 1000 + arank
	}
	return Node{ID: [20]byte{0: byte(rank)}, Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
}

func parseNodes(t *testing.T, fields []string) []Node {
	var out []Node
	for _, f := range fields {
		out = append(out, parseNode(t, f))
	}
	return out
}

func names(ns []Node) string {
	var s []string
	for _, n := range ns {
		s = append(s, strconv.Itoa(int(n.ID[0])))
	}
	return strings.Join(s, " ")
}

func runScript(t *testing.T, cfg Config, script string) {
	t.Helper()
	var l *Lookup
	for i, line := range strings.Split(strings.TrimSpace(script), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("line %d %q", i+1, line)
		head, rest, _ := strings.Cut(line, ":")
		f := strings.Fields(head)
		after := strings.Fields(rest)
		switch f[0] {
		case "seed":
			var err error
			cfg.Self = self
			if l, err = New(cfg, parseNodes(t, f[1:])); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case "next":
			want := strings.Join(f[1:], " ")
			if got := names(l.Next()); got != want {
				t.Fatalf("%s: next = [%s], want [%s]", where, got, want)
			}
		case "resp":
			n := parseNode(t, f[1])
			if !l.OnResponse(n.Addr, n.ID, parseNodes(t, after)) {
				t.Fatalf("%s: response not accepted", where)
			}
		case "respid":
			n, id := parseNode(t, f[1]), parseNode(t, f[3])
			l.OnResponse(n.Addr, id.ID, parseNodes(t, after))
		case "ignored":
			// ignored resp|err|stall N: the event must be refused.
			n := parseNode(t, f[2])
			var ok bool
			switch f[1] {
			case "resp":
				ok = l.OnResponse(n.Addr, n.ID, nil)
			case "err":
				ok = l.OnError(n.Addr)
			case "stall":
				ok = l.OnStalled(n.Addr)
			}
			if ok {
				t.Fatalf("%s: event accepted", where)
			}
		case "err", "stall", "timeout":
			n := parseNode(t, f[1])
			ok := map[string]func(netip.AddrPort) bool{"err": l.OnError, "stall": l.OnStalled, "timeout": l.OnTimeout}[f[0]](n.Addr)
			if !ok {
				t.Fatalf("%s: event not accepted", where)
			}
		case "done", "notdone":
			if l.Done() != (f[0] == "done") {
				t.Fatalf("%s: Done() = %v", where, l.Done())
			}
		case "closest":
			if got, want := names(l.Closest()), strings.Join(f[1:], " "); got != want {
				t.Fatalf("%s: closest = [%s], want [%s]", where, got, want)
			}
		case "responders":
			if got, want := names(l.Responders()), strings.Join(f[1:], " "); got != want {
				t.Fatalf("%s: responders = [%s], want [%s]", where, got, want)
			}
		case "stats":
			s := l.Stats()
			got := fmt.Sprintf("%d %d %d %d %d", s.Queries, s.Replies, s.Failed, s.InFlight, s.Stalled)
			if want := strings.Join(f[1:], " "); got != want {
				t.Fatalf("%s: stats = %s, want %s", where, got, want)
			}
		default:
			t.Fatalf("%s: unknown command", where)
		}
	}
}

func TestScripts(t *testing.T) {
	small := Config{K: 3, Alpha: 2}
	tests := []struct {
		name   string
		cfg    Config
		script string
	}{
		{"converges", small, `
			seed 40 50 60 70
			next 40 50
			notdone
			resp 40: 10 20 30
			next 10
			resp 50
			next 20
			resp 10: 1 2
			next 1
			resp 1
			next 2
			notdone
			resp 2
			# 1 2 10 answered: 20 (still waiting) is beyond the K closest.
			done
			next
			closest 1 2 10
			responders 1 2 10 40 50
			stats 6 5 0 1 0
		`},
		{"stalled node widens and does not block", Config{K: 3, Alpha: 1}, `
			seed 1 2 3 4
			next 1
			stall 1
			next 2
			resp 2
			next 3
			resp 3
			next 4
			notdone
			resp 4
			done
			closest 2 3 4
			stats 4 3 0 1 1
			# a late answer still counts
			resp 1
			closest 1 2 3
		`},
		{"waiting node closer than the K-th answer blocks", Config{K: 2, Alpha: 2}, `
			seed 1 2 3
			next 1 2
			resp 2
			# 1 may be silent: 3 is asked already
			notdone
			next 3
			resp 3
			# 2 and 3 answered, but 1 is closer and still waiting
			notdone
			next
			stall 1
			done
			closest 2 3
		`},
		{"speculation is bounded by alpha", Config{K: 2, Alpha: 2, Speculate: 5}, `
			seed 1 2 3 4 5
			next 1 2
			stall 1
			next 3
			stall 2
			next 4
			resp 3
			next 5
			resp 4
			done
			closest 3 4
		`},
		{"speculation is bounded by Speculate", Config{K: 2, Alpha: 5, Speculate: 1}, `
			seed 1 2 3 4 5
			# 1 and 2 fill the window, one more is speculative
			next 1 2 3
			resp 1
			next
			# with 2 stalled, 3 is inside the window: 4 may go
			stall 2
			next 4
			resp 3
			done
			closest 1 3
		`},
		{"failed nodes do not count", small, `
			seed 1 2 3 4 5
			next 1 2
			timeout 1
			next 3
			err 2
			next 4
			resp 3
			resp 4
			next 5
			notdone
			resp 5
			done
			closest 3 4 5
			stats 5 3 2 0 0
		`},
		{"small network ends when nothing is left", small, `
			seed 1 2
			next 1 2
			resp 1
			stall 2
			# fewer than K can answer: wait for the stalled one
			notdone
			timeout 2
			done
			closest 1
		`},
		{"no seeds is done at once", small, `
			seed
			done
			next
			closest
		`},
		{"dedupe by id and address, self and bad addresses ignored", small, `
			seed 10 10@11 11@10 self 1/0
			next 10
			resp 10: 5 5@6 6@5 self 1/0 10
			next 5
			resp 5
			done
			closest 5 10
			stats 2 2 0 0 0
		`},
		{"events for unknown or settled nodes are refused", small, `
			seed 1 2 3
			next 1 2
			ignored resp 3
			ignored err 9
			resp 1
			ignored resp 1
			ignored stall 1
			stall 2
			ignored stall 2
		`},
		{"candidate cap evicts the farthest unqueried", Config{K: 2, Alpha: 1, MaxCandidates: 3}, `
			seed 10 20 30
			next 10
			resp 10: 40 5
			# 40 was dropped (farther than all), 5 evicted 30
			next 5
			resp 5
			done
			closest 5 10
		`},
		{"answer with a new id re-keys the node", small, `
			seed 10 20
			next 10 20
			respid 10 as 3
			resp 20
			closest 3 20
			done
		`},
		{"answer with a taken id fails the node", small, `
			seed 10 20 30
			next 10 20
			respid 10 as 20
			stats 2 0 1 1 0
			next 30
		`},
		{"max queries bounds a lookup", Config{K: 2, Alpha: 1, MaxQueries: 2}, `
			seed 50
			next 50
			resp 50: 40
			next 40
			resp 40: 30
			# 30 is never queried: the lookup ends with what it has
			next
			done
			closest 40 50
		`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runScript(t, tc.cfg, tc.script) })
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{K: -1}, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative K: err = %v, want ErrConfig", err)
	}
	l, err := New(Config{K: 20, MaxCandidates: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.MaxCandidates != 20 || l.cfg.Alpha != DefaultAlpha || l.cfg.MaxQueries != DefaultMaxQueries {
		t.Fatalf("defaults not applied: %+v", l.cfg)
	}
}

func TestMappedAddressesDedupe(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:7")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), 7)
	l, err := New(Config{K: 2}, []Node{{ID: [20]byte{1}, Addr: v4}, {ID: [20]byte{2}, Addr: mapped}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Next(); len(got) != 1 {
		t.Fatalf("an IPv4 node and its ::ffff: form were both kept: %v", got)
	}
	if !l.OnResponse(mapped, [20]byte{1}, nil) || !slices.Equal(l.Closest(), []Node{{ID: [20]byte{1}, Addr: v4}}) {
		t.Fatalf("answer from the mapped address not matched: %v", l.Closest())
	}
}
