package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt")

// TestScripts runs the scenario scripts in testdata. A script is a list of
// blocks: a command line, a line "----", the expected output, a blank line.
// Lines starting with # are comments. See runCommand for the commands.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type scriptEnv struct {
	start time.Time
	now   time.Time
	f     *Engine
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	env := &scriptEnv{start: time.Unix(1_700_000_000, 0)}
	env.now = env.start
	var rewritten strings.Builder
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			rewritten.WriteString(line + "\n")
			continue
		}
		cmdLine := i + 1
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without ---- separator", file, cmdLine)
		}
		var want []string
		j := i + 2
		for ; j < len(lines) && lines[j] != ""; j++ {
			want = append(want, lines[j])
		}
		got, err := env.run(line)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, cmdLine, line, err)
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", file, cmdLine, line,
				strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		rewritten.WriteString(line + "\n----\n" + strings.Join(got, "\n") + "\n")
		i = j - 1
	}
	if *rewrite {
		out := strings.TrimRight(rewritten.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run executes one command and returns its output lines.
func (e *scriptEnv) run(line string) ([]string, error) {
	fields := strings.Fields(line)
	cmd, args := fields[0], parseArgs(fields[1:])
	if cmd == "new" {
		return e.newFollower(args)
	}
	if e.f == nil {
		return nil, errors.New("no follower: start with new")
	}
	if d, ok := args["+"]; ok {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, err
		}
		e.now = e.now.Add(dur)
	}
	var acts []Action
	switch cmd {
	case "tick":
		acts = e.f.Tick(e.now)
	case "poll-result":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		found, _ := strconv.Atoi(args["found"])
		item := []byte(args["item"])
		switch args["item"] {
		case "":
			item = []byte("item" + args["seq"])
		case "none": // a seq without a value
			item = nil
		}
		acts = e.f.Step(e.now, PollResult{Seq: seq, Pointer: pointerArgs(args), Item: item, Found: found})
	case "poll-notfound":
		acts = e.f.Step(e.now, PollNotFound{})
	case "poll-failed":
		acts = e.f.Step(e.now, PollFailed{Err: errors.New(args["err"])})
	case "fetch-done":
		acts = e.f.Step(e.now, FetchDone{IH: h(args["ih"])})
	case "fetch-failed":
		acts = e.f.Step(e.now, FetchFailed{IH: h(args["ih"]), Err: errors.New("no peers")})
	case "fetch-timedout":
		acts = e.f.Step(e.now, FetchTimedOut{IH: h(args["ih"])})
	case "fetch-invalid":
		acts = e.f.Step(e.now, FetchInvalid{IH: h(args["ih"]), Err: errors.New("torrent has several files")})
	case "install-done":
		acts = e.f.Step(e.now, InstallDone{IH: h(args["ih"])})
	case "install-failed":
		acts = e.f.Step(e.now, InstallFailed{IH: h(args["ih"]), Err: errors.New("not a database")})
	case "put-done":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		stored, _ := strconv.Atoi(args["stored"])
		var err error
		if args["err"] != "" {
			err = errors.New(args["err"])
		}
		_, publish := args["publish"]
		_, conflict := args["conflict"]
		acts = e.f.Step(e.now, PutDone{Seq: seq, Publish: publish, Stored: stored, Conflict: conflict, Err: err})
	case "pushed":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		acts = e.f.Step(e.now, Pushed{Seq: seq, Pointer: pointerArgs(args), Item: itemArg(args)})
	case "poll-now":
		acts = e.f.Step(e.now, PollNow{})
	case "wrote":
		acts = e.f.Step(e.now, Wrote{})
	case "unpublished":
		n, _ := strconv.Atoi(args["n"])
		acts = e.f.Step(e.now, Unpublished{N: n})
	case "publish":
		id, _ := strconv.ParseUint(args["id"], 10, 64)
		acts = e.f.Step(e.now, PublishRequest{ID: id})
	case "unlocked":
		acts = e.f.Step(e.now, Unlocked{})
	case "prepared":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		_, unchanged := args["unchanged"]
		ev := Prepared{Seq: seq, Unchanged: unchanged}
		if !unchanged {
			ev.Pointer, ev.Item = pointerArgs(args), itemArg(args)
		}
		acts = e.f.Step(e.now, ev)
	case "prepare-failed":
		_, locked := args["locked"]
		acts = e.f.Step(e.now, PrepareFailed{Err: errors.New(args["err"]), Locked: locked})
	case "readback":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		found, _ := strconv.Atoi(args["found"])
		acts = e.f.Step(e.now, ReadBackResult{Seq: seq, Pointer: pointerArgs(args), Item: itemArg(args), Found: found})
	case "readback-notfound":
		acts = e.f.Step(e.now, ReadBackNotFound{})
	case "readback-failed":
		acts = e.f.Step(e.now, ReadBackFailed{Err: errors.New(args["err"])})
	case "rebase-done":
		n, _ := strconv.Atoi(args["unpublished"])
		acts = e.f.Step(e.now, RebaseDone{IH: h(args["ih"]), Unpublished: n})
	case "rebase-failed":
		acts = e.f.Step(e.now, RebaseFailed{IH: h(args["ih"]), Err: errors.New(args["err"])})
	case "confirm-done":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		n, _ := strconv.Atoi(args["unpublished"])
		acts = e.f.Step(e.now, ConfirmDone{Seq: seq, Unpublished: n})
	case "confirm-failed":
		seq, _ := strconv.ParseInt(args["seq"], 10, 64)
		acts = e.f.Step(e.now, ConfirmFailed{Seq: seq, Err: errors.New(args["err"])})
	case "wake":
		w, ok := e.f.NextWake()
		if !ok {
			return []string{"wake never"}, nil
		}
		if w.IsZero() {
			return []string{"wake now"}, nil
		}
		return []string{fmt.Sprintf("wake at %s", w.Sub(e.start))}, nil
	case "state":
		return []string{fmtState(e.f.State())}, nil
	default:
		return nil, fmt.Errorf("unknown command %q", cmd)
	}
	return fmtActions(acts), nil
}

func (e *scriptEnv) newFollower(args map[string]string) ([]string, error) {
	_, manual := args["manual"]
	cfg := Config{NoJitter: args["jitter"] == "off", ManualPublish: manual, Rand: rand.New(rand.NewPCG(1, 2))}
	switch args["mode"] {
	case "", "follow":
	case "write":
		cfg.Mode = Write
	case "journaled":
		cfg.Mode = WriteJournaled
	default:
		return nil, fmt.Errorf("unknown mode %q", args["mode"])
	}
	for key, dst := range map[string]*time.Duration{"poll": &cfg.PollInterval, "fetch-timeout": &cfg.FetchTimeout,
		"retry": &cfg.RetryInterval, "keepalive": &cfg.KeepAliveInterval, "delay": &cfg.PublishDelay,
		"max-delay": &cfg.MaxPublishDelay} {
		if v, ok := args[key]; ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, err
			}
			*dst = d
		}
	}
	if v, ok := args["min-found"]; ok {
		cfg.MinFound, _ = strconv.Atoi(v)
	}
	if v, ok := args["attempts"]; ok {
		cfg.PublishAttempts, _ = strconv.Atoi(v)
	}
	var st Persisted
	if v, ok := args["seq"]; ok {
		st.Seq, _ = strconv.ParseInt(v, 10, 64)
		st.Item = []byte("item" + v)
		st.Pointer = pointerArgs(args)
	}
	if v, ok := args["current"]; ok {
		st.Current, st.HasCurrent = h(v), true
	}
	if v, ok := args["pending"]; ok { // pending=SEQ:IH, signed on the held pointer
		seqStr, ih, _ := strings.Cut(v, ":")
		seq, _ := strconv.ParseInt(seqStr, 10, 64)
		st.Pending = &Pending{Seq: seq, Item: []byte("item" + seqStr), Pointer: Pointer{IH: h(ih)},
			CAS: st.Seq, HasCAS: st.Seq > 0}
	}
	_, st.Unconfirmed = args["unconfirmed"]
	f, err := New(cfg, st)
	if err != nil {
		return []string{"error: " + err.Error()}, nil
	}
	e.f = f
	return []string{"ok"}, nil
}

// parseArgs parses key=value words; a bare word is key=""; "+10s" is key "+".
func parseArgs(words []string) map[string]string {
	m := map[string]string{}
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "+"):
			m["+"] = w[1:]
		case strings.Contains(w, "="):
			k, v, _ := strings.Cut(w, "=")
			m[k] = v
		default:
			if _, ok := m["ih"]; !ok && len(w) <= 2 && strings.ToUpper(w) == w {
				m["ih"] = w // a bare short upper-case name is an infohash
			} else {
				m[w] = ""
			}
		}
	}
	return m
}

// itemArg is the item of a command: item=X, or "item" + its seq.
func itemArg(args map[string]string) []byte {
	if v, ok := args["item"]; ok {
		return []byte(v)
	}
	return []byte("item" + args["seq"])
}

func pointerArgs(args map[string]string) Pointer {
	p := Pointer{IH: h(args["ih"])}
	if v := args["prev"]; v != "" {
		for _, name := range strings.Split(v, ",") {
			p.Prev = append(p.Prev, h(name))
		}
	}
	p.Size, _ = strconv.ParseInt(args["size"], 10, 64)
	_, p.RO = args["ro"]
	if v := args["next"]; v != "" {
		p.Next = []byte(v)
	}
	return p
}

// h names a test infohash by a short string.
func h(name string) Hash {
	var x Hash
	copy(x[:], name)
	return x
}

func name(x Hash) string { return string(bytes.TrimRight(x[:], "\x00")) }

func fmtState(st Persisted) string {
	s := fmt.Sprintf("seq=%d item=%s ih=%s", st.Seq, st.Item, name(st.Pointer.IH))
	if len(st.Pointer.Prev) > 0 {
		var ps []string
		for _, p := range st.Pointer.Prev {
			ps = append(ps, name(p))
		}
		s += " prev=" + strings.Join(ps, ",")
	}
	if st.HasCurrent {
		s += " current=" + name(st.Current)
	} else {
		s += " current=none"
	}
	if st.Pointer.RO {
		s += " ro"
	}
	if p := st.Pending; p != nil {
		s += fmt.Sprintf(" pending=%d:%s", p.Seq, name(p.Pointer.IH))
	}
	if st.Unconfirmed {
		s += " unconfirmed"
	}
	return s
}

func fmtActions(acts []Action) []string {
	if len(acts) == 0 {
		return []string{"(none)"}
	}
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Save:
			out = append(out, "save "+fmtState(a.State))
		case Poll:
			out = append(out, fmt.Sprintf("poll min-seq=%d", a.MinSeq))
		case Fetch:
			s := "fetch " + name(a.IH)
			if a.HasBase {
				s += " base=" + name(a.Base)
			}
			if a.Size > 0 {
				s += fmt.Sprintf(" size=%d", a.Size)
			}
			out = append(out, s)
		case Cancel:
			out = append(out, "cancel "+name(a.IH))
		case Install:
			out = append(out, "install "+name(a.IH))
		case Put:
			s := fmt.Sprintf("put seq=%d item=%s", a.Seq, a.Item)
			if a.Publish {
				s += " publish"
			}
			if a.HasCAS {
				s += fmt.Sprintf(" cas=%d", a.CAS)
			}
			out = append(out, s)
		case Prepare:
			s := fmt.Sprintf("prepare seq=%d", a.Seq)
			if a.Held != nil {
				s += " held=" + string(a.Held)
			}
			out = append(out, s)
		case ReadBack:
			out = append(out, "readback")
		case Rebase:
			out = append(out, fmt.Sprintf("rebase %s seq=%d", name(a.IH), a.Seq))
		case Confirm:
			out = append(out, fmt.Sprintf("confirm %s seq=%d", name(a.IH), a.Seq))
		case PublishDone:
			r := a.Result
			s := "publish-done"
			if len(a.IDs) > 0 {
				var ids []string
				for _, id := range a.IDs {
					ids = append(ids, strconv.FormatUint(id, 10))
				}
				s += " ids=" + strings.Join(ids, ",")
			}
			s += fmt.Sprintf(" seq=%d ih=%s attempts=%d", r.Seq, name(r.IH), r.Attempts)
			if r.Unchanged {
				s += " unchanged"
			}
			if r.Unconfirmed {
				s += " unconfirmed"
			}
			if r.Err != nil {
				s += " err=" + r.Err.Error()
			}
			out = append(out, s)
		case Notice:
			s := "notice " + a.Kind.String()
			if a.Seq != 0 {
				s += fmt.Sprintf(" seq=%d", a.Seq)
			}
			if a.IH != (Hash{}) {
				s += " ih=" + name(a.IH)
			}
			if a.Key != nil {
				s += " key=" + string(a.Key)
			}
			if a.Err != nil {
				s += " err=" + a.Err.Error()
			}
			out = append(out, s)
		default:
			out = append(out, fmt.Sprintf("unknown action %T", a))
		}
	}
	return out
}
