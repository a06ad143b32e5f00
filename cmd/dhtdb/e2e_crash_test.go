package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// TestCrashKill sends 50 SIGKILLs to writers and readers at random
// points: a testnet, a writer and a reader `dhtdb serve` process. Each
// round the writer gets writes (API and `dhtdb exec`; a write whose command
// succeeded is acknowledged) and publishes (explicit and automatic after the
// debounce) while the reader follows; then the writer or the reader is
// SIGKILLed at a random moment, during a write, a snapshot, a put, a poll,
// a fetch or a swap, and restarted on the same data directory (one restart
// in four is killed again while it starts; `dhtdb exec` also writes while
// the writer daemon is down). After each kill: every database file of the
// dead process opens and passes quick_check, the restart removes the
// crash's temporary files, every acknowledged write is in the restarted
// writer's copy (a write the kill cut short is all or nothing), the reader's
// copy is a complete published version (its infohash is named by a signed
// pointer) and the reader never goes back. At the end a publish brings every
// acknowledged write to the reader and the writer reports none pending.
//
// DHTDB_CRASH_SEED repeats a run's random choices (the seed is logged; the
// timing is not repeated); DHTDB_CRASH_ROUNDS changes the number of rounds
// (default 50); DHTDB_CRASH_VERBOSE=1 runs the daemons with -v.
func TestCrashKill(t *testing.T) {
	bin := dhtdbBinary(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("DHTDB_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("DHTDB_CRASH_SEED: %v", err)
		}
	}
	rounds := 50
	if s := os.Getenv("DHTDB_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (DHTDB_CRASH_SEED=%d repeats the random choices)", seed, seed)
	c := &crashRun{t: t, ctx: context.Background(), bin: bin, seed: seed,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		acked: map[int64]bool{}, origin: map[int64]string{}, published: map[syncer.Hash]int64{},
		kills: map[string]int{}, hits: map[string]int{}}
	start := time.Now()
	c.setup()
	// Half the kills hit the writer, half the reader, in a random order.
	victims := make([]string, rounds)
	for i := range victims {
		victims[i] = []string{"writer", "reader"}[i%2]
	}
	c.rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
	for i, v := range victims {
		c.round = i + 1
		rs := time.Now()
		c.oldTemps = map[string]bool{}
		for _, d := range []string{c.wdb, c.rdb, filepath.Join(c.wdb, "versions"), filepath.Join(c.rdb, "versions")} {
			for _, f := range crashTemps(d) {
				c.oldTemps[f] = true
			}
		}
		if v == "writer" {
			c.killWriter()
		} else {
			c.killReader()
		}
		c.logf("%s; %d acked writes (%.1fs)", c.last, len(c.acked), time.Since(rs).Seconds())
	}
	c.finish()
	nk := 0
	for _, n := range c.kills {
		nk += n
	}
	t.Logf("%d rounds, %d SIGKILLs, %d SQLite files checked, %d acknowledged writes kept, %d writes cut by a kill kept whole, in %.0fs (seed %d)",
		rounds, nk, c.checked, len(c.acked), c.survived, time.Since(start).Seconds(), seed)
	for _, m := range []map[string]int{c.kills, c.hits} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, m[k])
		}
		t.Logf("%s", b.String())
	}
}

// crashRun is the state of one TestCrashKill.
type crashRun struct {
	t    *testing.T
	ctx  context.Context
	bin  string
	boot string
	seed int64
	rng  *rand.Rand // main goroutine only
	addr record.Address
	w, r *crashProc
	wdb  string // the writer's and the reader's database directories
	rdb  string

	round    int
	last     string          // what the round did, for its log line
	oldTemps map[string]bool // temporary files there before the round

	mu       sync.Mutex
	nextID   int64
	acked    map[int64]bool   // ids of rows whose write was acknowledged
	origin   map[int64]string // how and when each acknowledged row was written
	maybe    [][]int64        // the rows of each write a kill cut short
	survived int              // such writes found complete after the restart
	errs     []string         // unexpected failures seen by background goroutines

	published      map[syncer.Hash]int64 // versions named by signed pointers seen, ih -> seq
	readerSeq      int64                 // seq of the newest version seen in the reader's live file
	readerRecorded int64                 // seq of the newest version the reader was seen recording as installed
	readerHeld     int64                 // highest pointer seq the reader was seen holding
	writerHeld     int64
	checked        int            // SQLite files checked after a death
	kills          map[string]int // victim/trigger
	hits           map[string]int // what a kill interrupted (from what the process left)
}

func (c *crashRun) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("round %d: "+format, append([]any{c.round}, args...)...)
}

// fatalf stops the test with what is needed to repeat the run.
func (c *crashRun) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("round %d (seed %d, %s): %s\nwriter stderr: %s\nreader stderr: %s", c.round, c.seed, c.last,
		fmt.Sprintf(format, args...), crashTail(c.w.stderr.String()), crashTail(c.r.stderr.String()))
}

func (c *crashRun) sleep(maxMS int) time.Duration {
	d := time.Duration(c.rng.IntN(maxMS+1)) * time.Millisecond
	time.Sleep(d)
	return d
}

func (c *crashRun) setup() {
	t := c.t
	boot := startTestnet(t, 12)
	c.boot = boot
	tmp := t.TempDir()
	key := filepath.Join(tmp, "owner.key")
	wdir, rdir := filepath.Join(tmp, "writer"), filepath.Join(tmp, "reader")
	ok(t, &keygenResult{}, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	c.w = crashStartServe(t, "writer", wdir, boot)
	var st daemon.Status
	ok(t, &st, nil, "create", "--data", wdir, "--key", key, "--json", "crash")
	a, err := record.ParseAddress(st.Address)
	if err != nil {
		t.Fatal(err)
	}
	c.addr, c.wdb, c.rdb = a, crashDBDir(wdir, a), crashDBDir(rdir, a)
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "crash",
		"CREATE TABLE w (id INTEGER PRIMARY KEY, round INTEGER NOT NULL, pad BLOB)")
	// 100 rows of 4 kB: snapshots, fetches and swaps of a few hundred kB
	// take long enough to be hit.
	ok(t, &db.ExecResult{}, nil, "exec", "--data", wdir, "--json", "crash",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 100) "+
			"INSERT INTO w SELECT -i, 0, randomblob(4000) FROM n")
	for i := int64(1); i <= 100; i++ {
		c.acked[-i] = true
	}
	var rep db.PublishReport
	ok(t, &rep, nil, "publish", "--data", wdir, "--json", "crash")
	c.collect(c.wdb)
	c.r = crashStartServe(t, "reader", rdir, boot)
	ok(t, &st, nil, "follow", "--data", rdir, "--json", st.Magnet)
	// A first kill during the reader's first poll, fetch or install: it
	// has no local version yet.
	d := c.sleep(300)
	c.r.kill(t)
	c.kills["reader/first-fetch"]++
	c.checkDead(c.r)
	if _, err := os.Stat(filepath.Join(c.rdb, "live.sqlite")); err == nil {
		c.collect(c.rdb)
		c.checkReaderLive()
	}
	c.logf("reader killed %v after it started following, during %s", d, strings.Join(c.readerTags(), ","))
	c.r.start(t)
	c.waitReader(rep.IH.String())
	c.observeReader()
}

// write inserts one or two new rows through the API (or, with cli, through
// `dhtdb exec`); they are acknowledged when the command succeeded.
func (c *crashRun) write(cli bool) error {
	_, err := c.writeIDs(cli)
	return err
}

// writeIDs is write, returning the ids of the rows written.
func (c *crashRun) writeIDs(cli bool) ([]int64, error) {
	c.mu.Lock()
	id := c.nextID + 1
	n := 1 + int(id%2)
	c.nextID += int64(n)
	round := c.round
	c.mu.Unlock()
	// Two rows are two statements of one exec: one transaction, all or
	// nothing.
	var stmts []string
	for i := range n {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO w (id, round, pad) VALUES (%d, %d, randomblob(%d))",
			id+int64(i), round, 200+(id*7919)%3000))
	}
	sql := strings.Join(stmts, "; ")
	var err error
	if cli {
		_, err = crashCLI(c.bin, "exec", "--data", c.w.dir, "--json", "crash", sql)
	} else {
		err = c.w.call(c.ctx, "POST", "/v1/databases/crash/exec", map[string]any{"sql": sql}, &db.ExecResult{})
	}
	if err != nil {
		if !crashIsAPIError(err) {
			// Cut by a kill: the write may or may not have happened.
			c.mu.Lock()
			var g []int64
			for i := range n {
				g = append(g, id+int64(i))
			}
			c.maybe = append(c.maybe, g)
			c.mu.Unlock()
		}
		return nil, err
	}
	var ids []int64
	c.mu.Lock()
	via := "api"
	if cli {
		via = "dhtdb exec"
	}
	if !c.w.alive() {
		via = "offline dhtdb exec"
	}
	for i := range n {
		c.acked[id+int64(i)] = true
		c.origin[id+int64(i)] = fmt.Sprintf("round %d by %s at %s", round, via, time.Now().Format("15:04:05.000"))
		ids = append(ids, id+int64(i))
	}
	c.mu.Unlock()
	return ids, nil
}

// writes makes n acknowledged writes while the writer runs, a third of
// them through `dhtdb exec`.
func (c *crashRun) writes(n int) {
	for range n {
		if err := c.write(c.rng.IntN(3) == 0); err != nil {
			c.fatalf("write: %v", err)
		}
	}
}

// writeLoop writes through the API until stop is closed or a write fails
// (the writer was killed); inflight counts the writes under way.
func (c *crashRun) writeLoop(stop <-chan struct{}, inflight *atomic.Int32) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			inflight.Add(1)
			err := c.write(false)
			inflight.Add(-1)
			time.Sleep(2 * time.Millisecond)
			if err != nil {
				if crashIsAPIError(err) {
					c.mu.Lock()
					c.errs = append(c.errs, "write refused: "+err.Error())
					c.mu.Unlock()
				}
				return
			}
		}
	}()
	return done
}

// publishAsync asks the writer's API for a publish.
func (c *crashRun) publishAsync(inflight *atomic.Int32) <-chan error {
	done := make(chan error, 1)
	inflight.Add(1)
	go func() {
		defer inflight.Add(-1)
		var rep db.PublishReport
		err := c.w.call(c.ctx, "POST", "/v1/databases/crash/publish", nil, &rep)
		done <- err
	}()
	return done
}

// crashWatch polls cond until it holds, done has a value, or 3 s pass, and
// says whether it held: the test kills right when a step is seen under way.
func crashWatch(done <-chan error, cond func() bool) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && (done == nil || len(done) == 0) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// pending: the writer has signed a publish not yet recorded as stored (a put).
func (c *crashRun) pending() bool {
	st, err := crashState(c.wdb)
	return err == nil && st.Pending != nil
}

// The writer's kill triggers: a stream of writes, an explicit publish (a
// random moment, or right when its snapshot file or its signed pending put
// appears), the automatic publish after the debounce.
var crashWriterTriggers = []string{"write", "publish", "publish-snapshot", "publish-put", "auto-publish"}

func (c *crashRun) killWriter() {
	trig := crashWriterTriggers[c.rng.IntN(len(crashWriterTriggers))]
	var writing, publishing atomic.Int32
	stop := make(chan struct{})
	var loops []<-chan struct{}
	var pub <-chan error
	var how string
	snapshotting := func() bool { return len(c.temps(filepath.Join(c.wdb, "versions"))) > 0 }
	switch trig {
	case "write":
		loops = append(loops, c.writeLoop(stop, &writing))
		how = fmt.Sprintf("+%v", c.sleep(300))
	case "publish", "publish-snapshot", "publish-put":
		c.writes(1 + c.rng.IntN(3))
		if c.rng.IntN(2) == 0 {
			loops = append(loops, c.writeLoop(stop, &writing))
		}
		pub = c.publishAsync(&publishing)
		switch trig {
		case "publish":
			how = fmt.Sprintf("+%v", c.sleep(300))
		case "publish-snapshot":
			how = fmt.Sprintf("snapshot seen %v", crashWatch(pub, snapshotting))
		case "publish-put":
			seen := crashWatch(pub, c.pending)
			var d time.Duration
			if c.rng.IntN(2) == 0 {
				d = c.sleep(10) // the put's lookup and store round take a few ms here
			}
			how = fmt.Sprintf("pending put seen %v, +%v", seen, d)
		}
	case "auto-publish":
		c.writes(1 + c.rng.IntN(3))
		if c.rng.IntN(2) == 0 {
			how = fmt.Sprintf("snapshot or put seen %v", crashWatch(nil, func() bool { return snapshotting() || c.pending() }))
		} else {
			time.Sleep(150 * time.Millisecond) // the debounce
			how = fmt.Sprintf("debounce+%v", c.sleep(300))
		}
	}
	wasWriting, wasPublishing := writing.Load() > 0, publishing.Load() > 0
	c.w.kill(c.t)
	close(stop)
	for _, l := range loops {
		<-l
	}
	if pub != nil {
		if err := <-pub; err != nil && crashIsAPIError(err) {
			c.mu.Lock()
			c.errs = append(c.errs, "publish refused: "+err.Error())
			c.mu.Unlock()
		}
	}
	c.kills["writer/"+trig]++
	tags := c.writerTags(wasWriting, wasPublishing)
	c.last = fmt.Sprintf("writer killed (%s %s) during %s", trig, how, strings.Join(tags, ","))
	c.checkErrs()

	c.checkDead(c.w)
	st, err := crashState(c.wdb)
	if err != nil {
		c.fatalf("writer state: %v", err)
	}
	if st.Sync.Seq < c.writerHeld {
		c.fatalf("writer's held seq went back from %d to %d", c.writerHeld, st.Sync.Seq)
	}
	c.writerHeld = st.Sync.Seq
	c.collect(c.wdb)
	// After a kill during a put (the riskiest restart: the DHT may hold
	// a version the writer did not record), always; else one time in four.
	if slices.Contains(tags, "put") || c.rng.IntN(4) == 0 {
		// A user's script goes on writing while the daemon is down:
		// `dhtdb exec` finds daemon.json stale and writes the data
		// directory itself. Those writes are acknowledged too.
		var offline []int64
		for range 1 + c.rng.IntN(2) {
			ids, err := c.writeIDs(true)
			if err != nil {
				c.fatalf("exec while the writer daemon is down: %v", err)
			}
			offline = append(offline, ids...)
		}
		c.hits["writer:offline-exec"]++
		c.last += fmt.Sprintf("; offline writes of ids %v", offline)
	}
	c.restart(c.w)
	c.checkWriter()
	if slices.Contains(tags, "put") {
		// The publish after a kill during a put finishes that put first.
		c.checkPublished(c.publish())
	}
	c.observeReader()
}

// restart starts a killed daemon again on its data directory. One time in
// four it is first killed again while it starts (repair, resume, the
// catch-up and the pending publish of a restart) and its files checked.
func (c *crashRun) restart(p *crashProc) {
	c.t.Helper()
	if c.rng.IntN(4) == 0 {
		if err := p.launch(c.t); err != nil {
			c.fatalf("%s: launch: %v", p.role, err)
		}
		d := c.sleep(250)
		if !p.alive() && strings.Contains(p.stderr.String(), "address already in use") {
			c.logf("%s: its port was taken; no kill while it starts", p.role)
		} else {
			p.kill(c.t)
			c.kills[p.role+"/startup"]++
			var tags []string
			if p == c.w {
				tags = c.writerTags(false, false)
			} else {
				tags = c.readerTags()
			}
			c.last += fmt.Sprintf("; killed again %v after its restart, during %s", d, strings.Join(tags, ","))
			c.checkDead(p)
			if p == c.r {
				c.collect(c.rdb)
				c.checkReaderLive()
			}
		}
	}
	dbDir := c.wdb
	if p == c.r {
		dbDir = c.rdb
	}
	left := crashTemps(dbDir) // work the kill cut short: a start removes it
	p.start(c.t)
	for _, f := range left {
		if _, err := os.Stat(f); err == nil {
			c.fatalf("%s: the restart left the crash's temporary file %s", p.role, f)
		}
	}
}

func (c *crashRun) killReader() {
	c.writes(1 + c.rng.IntN(4))
	rep := c.publish()
	c.checkPublished(rep)
	c.collect(c.wdb)
	trig := []string{"random", "fetch", "swap", "installed"}[c.rng.IntN(4)]
	var how string
	status := func() daemon.Status {
		var st daemon.Status
		c.r.call(c.ctx, "GET", "/v1/databases/crash", nil, &st)
		return st
	}
	switch trig {
	case "random":
		how = fmt.Sprintf("+%v", c.sleep(600))
	case "fetch": // a download file appears, or the status says fetching
		how = fmt.Sprintf("fetch seen %v", crashWatch(nil, func() bool {
			return len(c.temps(filepath.Join(c.rdb, "versions"))) > 0 || len(status().Fetching) > 0
		}))
	case "swap": // the copy that replaces the live file appears
		how = fmt.Sprintf("swap seen %v", crashWatch(nil, func() bool { return len(c.temps(c.rdb)) > 0 }))
	case "installed":
		how = fmt.Sprintf("installed seen %v, +%v", crashWatch(nil, func() bool { return status().Current == rep.IH.String() }), c.sleep(20))
	}
	c.r.kill(c.t)
	c.kills["reader/"+trig]++
	tags := c.readerTags()
	c.last = fmt.Sprintf("reader killed (%s %s after publishing seq %d) during %s", trig, how, rep.Seq, strings.Join(tags, ","))

	c.checkDead(c.r)
	c.collect(c.wdb)
	c.collect(c.rdb)
	c.checkReaderLive()
	c.restart(c.r)
	c.observeReader()
}

// publish asks the running writer for a publish and returns its report.
// A failed publish is logged and retried (twice): it loses nothing, the
// writes stay pending, but it is worth knowing.
func (c *crashRun) publish() db.PublishReport {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var rep db.PublishReport
		if err = c.w.call(c.ctx, "POST", "/v1/databases/crash/publish", nil, &rep); err == nil {
			return rep
		}
		c.logf("publish failed (attempt %d): %v", attempt+1, err)
		c.hits["publish-failed"]++
		time.Sleep(time.Second)
	}
	c.fatalf("publish: %v", err)
	return db.PublishReport{}
}
