package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/dhtdb/dhtdb/daemon"
)

// plainEvery is the least time between two plain or JSON progress lines of
// the same phase.
const plainEvery = time.Second

// progressView shows the progress of a database's fetches while a command
// waits for its sync: a bar on a terminal, else plain or JSON lines.
type progressView interface {
	update(st daemon.Status)
	// finish ends the view with the last status the command saw.
	finish(st daemon.Status)
}

// newProgressView picks the view for w: JSON lines with --json, a bar when
// w is a terminal, else plain lines.
func newProgressView(w io.Writer, jsonOut bool) progressView {
	switch {
	case jsonOut:
		return &lineView{w: w, json: true}
	case isTerminal(w):
		return &barView{w: w}
	}
	return &lineView{w: w}
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// fetchEvent is the JSON progress line: the daemon's FetchProgress tagged
// {"event":"fetch"}.
type fetchEvent struct {
	Event string `json:"event"`
	daemon.FetchProgress
}

// lineView writes one line per step of progress: at a phase change, and at
// most every plainEvery otherwise.
type lineView struct {
	w    io.Writer
	json bool
	last daemon.FetchProgress
	at   time.Time
	now  func() time.Time // nil: time.Now
}

func (v *lineView) update(st daemon.Status) {
	p := st.Fetch
	if p == nil || *p == v.last {
		return
	}
	now := time.Now
	if v.now != nil {
		now = v.now
	}
	t := now()
	if p.IH == v.last.IH && p.Phase == v.last.Phase && t.Sub(v.at) < plainEvery {
		return
	}
	v.last, v.at = *p, t
	if v.json {
		b, err := json.Marshal(fetchEvent{Event: "fetch", FetchProgress: *p})
		if err == nil {
			v.w.Write(append(b, '\n'))
		}
		return
	}
	fmt.Fprintln(v.w, fetchLine(*p))
}

func (v *lineView) finish(daemon.Status) {}

// barView draws a progress bar of the bytes of the running fetch.
type barView struct {
	w      io.Writer
	bar    *progressbar.ProgressBar
	ih     string
	pieces int
}

func (v *barView) update(st daemon.Status) {
	p := st.Fetch
	if p == nil || p.BytesTotal == 0 {
		return
	}
	if v.bar != nil && p.IH != v.ih {
		v.end(false) // a newer version replaced it
	}
	if v.bar == nil {
		v.ih, v.pieces = p.IH, p.PiecesTotal
		v.bar = progressbar.NewOptions64(p.BytesTotal,
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	v.bar.Describe(fmt.Sprintf("fetch %s %d/%d pieces, %d peers", short(p.IH), p.PiecesDone, p.PiecesTotal, p.Peers))
	v.bar.Set64(p.BytesDone)
}

// finish completes the bar when its version is the one installed, else
// leaves it where the fetch was.
func (v *barView) finish(st daemon.Status) {
	v.end(synced(st) && st.Current == v.ih)
}

func (v *barView) end(installed bool) {
	if v.bar == nil {
		return
	}
	if installed {
		v.bar.Describe(fmt.Sprintf("fetch %s %d/%d pieces, installed", short(v.ih), v.pieces, v.pieces))
		v.bar.Finish()
	} else {
		v.bar.Exit()
	}
	fmt.Fprintln(v.w)
	v.bar = nil
}

// fetchLine is the plain form of a fetch's progress, e.g.
// "fetch <ih> 12.3/100.6 MiB, 40/6442 pieces, 3 peers, 56.1 MiB/s".
func fetchLine(p daemon.FetchProgress) string {
	if p.BytesTotal == 0 {
		return fmt.Sprintf("fetch %s %s, %d peers", p.IH, p.Phase, p.Peers)
	}
	unit, div := sizeUnit(p.BytesTotal)
	s := fmt.Sprintf("fetch %s %.1f/%.1f %s, %d/%d pieces, %d peers, %s",
		p.IH, float64(p.BytesDone)/div, float64(p.BytesTotal)/div, unit,
		p.PiecesDone, p.PiecesTotal, p.Peers, rate(p.RateBps))
	if p.Phase == "check" {
		s += ", checking"
	}
	return s
}

// sizeUnit is the binary unit that shows n with one to four digits before
// the point.
func sizeUnit(n int64) (string, float64) {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	div := 1.0
	i := 0
	for i < len(units)-1 && float64(n)/div >= 1024 {
		div *= 1024
		i++
	}
	return units[i], div
}

// rate is a transfer rate in its own unit, e.g. "56.1 MiB/s".
func rate(bps float64) string {
	if bps < 1 {
		return "0 B/s"
	}
	unit, div := sizeUnit(int64(bps))
	return fmt.Sprintf("%.1f %s/s", bps/div, unit)
}

// short is the first 8 hex digits of an infohash.
func short(ih string) string {
	if len(ih) > 8 {
		return ih[:8]
	}
	return ih
}
