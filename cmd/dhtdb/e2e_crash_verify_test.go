package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
)

// The checks of TestCrashKill: what a killed daemon left, what the
// restarted writer holds, what the reader installed.

// checkDead checks the files a dead (killed or stopped) daemon left.
func (c *crashRun) checkDead(p *crashProc) {
	c.t.Helper()
	probs, n := crashCheckData(c.ctx, p.dir, c.addr)
	if len(probs) > 0 {
		c.fatalf("%s's files after it died:\n  %s", p.role, strings.Join(probs, "\n  "))
	}
	c.checked += n
}

// writerTags says what the writer was doing when it died, from the
// requests under way and the files it left.
func (c *crashRun) writerTags(writing, publishing bool) []string {
	var tags []string
	if writing {
		tags = append(tags, "write")
	}
	if publishing {
		tags = append(tags, "publish-request")
	}
	if len(c.temps(filepath.Join(c.wdb, "versions"))) > 0 {
		tags = append(tags, "snapshot")
	}
	if len(c.temps(c.wdb)) > 0 {
		tags = append(tags, "catch-up")
	}
	if st, err := crashState(c.wdb); err == nil && st.Pending != nil {
		tags = append(tags, "put")
		// Did the put reach the nodes before the kill? Then the DHT holds
		// a version the writer did not record; its restart catches up.
		out, err := crashCLI(c.bin, "dht", "get", c.addr.String(), "--bootstrap", c.boot, "--json")
		var g getResult
		if err == nil && json.Unmarshal([]byte(out), &g) == nil && g.Seq != nil && *g.Seq > st.Sync.Seq {
			tags = append(tags, "put-stored-unrecorded")
		}
	}
	if len(tags) == 0 {
		tags = append(tags, "idle")
	}
	for _, tag := range tags {
		c.hits["writer:"+tag]++
	}
	return tags
}

// readerTags says what the reader was doing when it died, from its files.
func (c *crashRun) readerTags() []string {
	var tags []string
	if len(c.temps(c.rdb)) > 0 {
		tags = append(tags, "swap")
	}
	if len(c.temps(filepath.Join(c.rdb, "versions"))) > 0 {
		tags = append(tags, "fetch")
	}
	st, err := crashState(c.rdb)
	ih, herr := crashInfoHash(c.ctx, filepath.Join(c.rdb, "live.sqlite"), c.addr.Name)
	if herr != nil && len(tags) == 0 && err == nil {
		if st.Sync.Seq > 0 {
			tags = append(tags, "first-fetch")
		} else {
			tags = append(tags, "first-poll")
		}
	}
	if err == nil && herr == nil {
		if seq, ok := c.published[ih]; ok && st.Sync.Seq > seq && !slices.Contains(tags, "fetch") {
			tags = append(tags, "polled-not-installed")
		}
		if !st.Sync.HasCurrent || st.Sync.Current != ih {
			tags = append(tags, "installed-unrecorded")
		}
	}
	if len(tags) == 0 {
		tags = append(tags, "idle")
	}
	for _, tag := range tags {
		c.hits["reader:"+tag]++
	}
	return tags
}

// temps lists the temporary files in dir made during this round.
func (c *crashRun) temps(dir string) []string {
	var out []string
	for _, f := range crashTemps(dir) {
		if !c.oldTemps[f] {
			out = append(out, f)
		}
	}
	return out
}

// collect notes the versions named by the signed pointer a database
// directory holds (state.json is replaced atomically: readable any time).
func (c *crashRun) collect(dbDir string) {
	st, err := crashState(dbDir)
	if err != nil {
		c.fatalf("%s: %v", dbDir, err)
	}
	if st.Sync.Item == nil {
		return
	}
	vs, err := crashSigned(st.Sync.Item, c.addr.PublicKey)
	if err != nil {
		c.fatalf("held pointer in %s: %v", dbDir, err)
	}
	for ih, seq := range vs {
		if old, ok := c.published[ih]; ok && old != seq {
			c.t.Logf("round %d: version %s named at seq %d and %d", c.round, ih, old, seq)
		}
		if _, ok := c.published[ih]; !ok {
			c.published[ih] = seq
		}
	}
}

// checkReaderLive: the dead reader's live copy is a version a signed
// pointer named, not older than one it had before.
func (c *crashRun) checkReaderLive() {
	ih, err := crashInfoHash(c.ctx, filepath.Join(c.rdb, "live.sqlite"), c.addr.Name)
	if err != nil {
		c.fatalf("reader's live copy: %v", err)
	}
	seq, ok := c.published[ih]
	if !ok {
		c.fatalf("reader's live copy (infohash %s) is no published version", ih)
	}
	if seq < c.readerSeq {
		c.fatalf("reader's live copy went back from seq %d to seq %d (state: held seq %d, current %s)", c.readerSeq, seq,
			c.readerHeld, crashCurrent(c.rdb))
	}
	c.readerSeq = seq
	st, err := crashState(c.rdb)
	if err != nil {
		c.fatalf("reader state: %v", err)
	}
	if st.Sync.Seq < c.readerHeld {
		c.fatalf("reader's held seq went back from %d to %d", c.readerHeld, st.Sync.Seq)
	}
	c.readerHeld = st.Sync.Seq
	if st.Sync.HasCurrent {
		cur, ok := c.published[st.Sync.Current]
		if !ok {
			c.fatalf("reader's recorded version %s is no published version", st.Sync.Current)
		}
		if cur > seq {
			c.fatalf("reader records version seq %d as installed, its live file is seq %d", cur, seq)
		}
		c.recorded(cur)
	}
}

// observeReader checks the running reader's status: its held seq and its
// installed version never go back.
func (c *crashRun) observeReader() {
	var st daemon.Status
	if err := c.r.call(c.ctx, "GET", "/v1/databases/crash", nil, &st); err != nil {
		c.fatalf("reader status: %v", err)
	}
	if st.Seq < c.readerHeld {
		c.fatalf("reader's held seq went back from %d to %d", c.readerHeld, st.Seq)
	}
	c.readerHeld = st.Seq
	if st.Current == "" {
		return
	}
	c.collect(c.rdb)
	for ih, seq := range c.published {
		if ih.String() == st.Current {
			c.recorded(seq)
		}
	}
}

// recorded checks the seq of the version the reader records as installed
// (status and state.json "current"), which never goes back. It may lag the
// live file by a version: a kill between a swap and its record.
func (c *crashRun) recorded(seq int64) {
	if seq < c.readerRecorded {
		c.fatalf("reader's recorded installed version went back from seq %d to seq %d", c.readerRecorded, seq)
	}
	c.readerRecorded = seq
}

// checkWriter: every acknowledged write is in the restarted writer's copy.
func (c *crashRun) checkWriter() {
	var rows db.Rows
	if err := c.w.call(c.ctx, "POST", "/v1/databases/crash/query", map[string]any{"sql": "SELECT id FROM w"}, &rows); err != nil {
		c.fatalf("query the restarted writer: %v", err)
	}
	if missing := c.missing(rows); len(missing) > 0 {
		var b strings.Builder
		for _, id := range missing {
			fmt.Fprintf(&b, "\n  id %d: %s", id, c.origin[id])
		}
		c.fatalf("LOST %d acknowledged writes:%s", len(missing), b.String())
	}
	// A write a kill cut short happened entirely or not at all; if it
	// did, it is durable from now on, like an acknowledged one.
	have := map[int64]bool{}
	for _, r := range rows.Rows {
		if f, ok := r[0].(float64); ok {
			have[int64(f)] = true
		}
	}
	c.mu.Lock()
	groups := c.maybe
	c.maybe = nil
	c.mu.Unlock()
	for _, g := range groups {
		n := 0
		for _, id := range g {
			if have[id] {
				n++
			}
		}
		if n != 0 && n != len(g) {
			c.fatalf("a write cut by the kill happened in part: %d of its rows %v", n, g)
		}
		if n == len(g) {
			c.survived++
			c.mu.Lock()
			for _, id := range g {
				c.acked[id] = true
				c.origin[id] = fmt.Sprintf("cut by the kill of round %d, found after the restart", c.round)
			}
			c.mu.Unlock()
		}
	}
}

// missing lists the acknowledged ids not among rows.
func (c *crashRun) missing(rows db.Rows) []int64 {
	have := map[int64]bool{}
	for _, r := range rows.Rows {
		if f, ok := r[0].(float64); ok {
			have[int64(f)] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for id := range c.acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (c *crashRun) checkErrs() {
	c.mu.Lock()
	errs := c.errs
	c.errs = nil
	c.mu.Unlock()
	if len(errs) > 0 {
		c.fatalf("the daemon refused requests it should have run:\n  %s", strings.Join(errs, "\n  "))
	}
}

// waitReader waits until the reader has installed version ih.
func (c *crashRun) waitReader(ih string) {
	deadline := time.Now().Add(2 * time.Minute)
	var st daemon.Status
	for time.Now().Before(deadline) {
		if err := c.r.call(c.ctx, "GET", "/v1/databases/crash", nil, &st); err == nil && st.Current == ih {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.fatalf("the reader did not install %s in 2 minutes; status %+v", ih, st)
}

// finish publishes once more and waits for the reader to hold every
// acknowledged write; both daemons then stop cleanly and their files are
// checked a last time.
func (c *crashRun) finish() {
	c.round++
	c.last = "final publish"
	var rep db.PublishReport
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var out string
		if out, err = crashCLI(c.bin, "publish", "--data", c.w.dir, "--json", "crash"); err == nil {
			if err = json.Unmarshal([]byte(out), &rep); err == nil {
				break
			}
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		c.fatalf("final publish: %v", err)
	}
	c.checkWriter()
	c.checkPublished(rep)
	c.waitReader(rep.IH.String())
	var rows db.Rows
	if err := c.r.call(c.ctx, "POST", "/v1/databases/crash/query", map[string]any{"sql": "SELECT id FROM w"}, &rows); err != nil {
		c.fatalf("query the reader: %v", err)
	}
	if missing := c.missing(rows); len(missing) > 0 {
		c.fatalf("the reader's final version (seq %d) lacks %d acknowledged writes: %v", rep.Seq, len(missing), missing)
	}
	c.logf("final publish seq %d: the reader holds all %d acknowledged writes (%d rows)", rep.Seq, len(c.acked), len(rows.Rows))
	c.w.stop(c.t)
	c.r.stop(c.t)
	c.checkDead(c.w)
	c.checkDead(c.r)
	for _, d := range []string{c.wdb, c.rdb, filepath.Join(c.wdb, "versions"), filepath.Join(c.rdb, "versions")} {
		if tmps := crashTemps(d); len(tmps) > 0 {
			c.fatalf("%d temporary files left in %s after restarts and a clean stop: %v", len(tmps), d, tmps)
		}
	}
	if ih, err := crashInfoHash(c.ctx, filepath.Join(c.rdb, "live.sqlite"), c.addr.Name); err != nil || ih != rep.IH {
		c.fatalf("reader's live copy is %s (%v), want the final version %s", ih, err, rep.IH)
	}
}

// crashCurrent is the version a database directory's state records as
// installed, for error messages.
func crashCurrent(dbDir string) string {
	st, err := crashState(dbDir)
	if err != nil {
		return err.Error()
	}
	return st.Sync.Current.String()
}

// checkPublished: after a publish with no write running, the writer reports
// every write published, in the report and (at once, or within 5 s) in its
// status — also when the publish only finished a put a kill interrupted,
// or after a restart's catch-up re-applied writes made while it was down.
func (c *crashRun) checkPublished(rep db.PublishReport) {
	c.t.Helper()
	if rep.Pending != 0 {
		c.fatalf("publish seq %d (retried %d, unchanged %v) reports %d writes pending", rep.Seq, rep.Retried, rep.Unchanged, rep.Pending)
	}
	var st daemon.Status
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = c.w.call(c.ctx, "GET", "/v1/databases/crash", nil, &st)
		if err == nil && st.PendingWrites == 0 && st.Seq >= rep.Seq {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.fatalf("writer status 5 s after publishing seq %d (retried %d, unchanged %v): seq %d, %d writes pending (%v); journal entries pending: %s",
		rep.Seq, rep.Retried, rep.Unchanged, st.Seq, st.PendingWrites, err, crashJournalPending(c.wdb))
}

// crashJournalPending lists the entries of a write journal in state 0
// (pending), read from a copy, for error messages.
func crashJournalPending(dbDir string) string {
	tmp, err := os.MkdirTemp("", "dhtdb-crash-journal-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "j.sqlite")
	for _, suffix := range []string{"", "-wal"} {
		crashCopy(filepath.Join(dbDir, "journal.sqlite")+suffix, cp+suffix)
	}
	c, err := sqlite.OpenConn(cp, sqlite.OpenReadWrite)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	var out []string
	err = sqlitex.ExecuteTransient(c, "SELECT counter, state, seq FROM entries WHERE state = 0 ORDER BY counter", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error {
			out = append(out, fmt.Sprintf("counter %d state %d seq %d", s.ColumnInt64(0), s.ColumnInt64(1), s.ColumnInt64(2)))
			return nil
		}})
	if err != nil {
		return err.Error()
	}
	return "[" + strings.Join(out, "; ") + "]" // "[]": none
}
