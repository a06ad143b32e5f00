package daemon

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Metrics counts what the sync loops do. The zero value is ready; one set is
// shared by the loops of a Runner (no package-level state).
type Metrics struct {
	Polls, PollFailures, Replays  atomic.Int64
	Puts, PutFailures, PutStored  atomic.Int64
	Fetches, FetchFailures        atomic.Int64
	Installs, InstallFailures     atomic.Int64
	Publishes, PublishFailures    atomic.Int64
	FetchedBytes, DownloadedBytes atomic.Int64 // bytes of fetched versions; bytes read from peers
}

// WritePrometheus writes the counters, and the per-database gauges of
// statuses, in the Prometheus text exposition format.
func (m *Metrics) WritePrometheus(w io.Writer, statuses []Status) error {
	counters := []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"dhtdb_polls_total", "Pointer polls started.", &m.Polls},
		{"dhtdb_poll_failures_total", "Pointer polls that failed.", &m.PollFailures},
		{"dhtdb_replays_total", "Pointers refused because their seq was lower than one seen.", &m.Replays},
		{"dhtdb_puts_total", "Re-puts of held pointers (keep-alive).", &m.Puts},
		{"dhtdb_put_failures_total", "Re-puts that no node stored.", &m.PutFailures},
		{"dhtdb_put_stored_total", "Nodes that stored a put or published pointer, summed.", &m.PutStored},
		{"dhtdb_fetches_total", "Version fetches started.", &m.Fetches},
		{"dhtdb_fetch_failures_total", "Version fetches that failed.", &m.FetchFailures},
		{"dhtdb_installs_total", "Versions installed.", &m.Installs},
		{"dhtdb_install_failures_total", "Fetched versions refused by the check.", &m.InstallFailures},
		{"dhtdb_publishes_total", "Versions published by this node.", &m.Publishes},
		{"dhtdb_publish_failures_total", "Publishes that failed.", &m.PublishFailures},
		{"dhtdb_fetched_bytes_total", "Length of the versions fetched.", &m.FetchedBytes},
		{"dhtdb_downloaded_bytes_total", "Piece data read from peers (what delta sync did not copy locally).", &m.DownloadedBytes},
	}
	for _, c := range counters {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v.Load()); err != nil {
			return err
		}
	}
	gauges := []struct {
		name, help string
		v          func(Status) int64
	}{
		{"dhtdb_db_seq", "Highest pointer seq held.", func(s Status) int64 { return s.Seq }},
		{"dhtdb_db_versions_behind", "Versions between the local copy and the newest pointer.", func(s Status) int64 { return int64(s.Behind) }},
		{"dhtdb_db_pointer_found", "Closest nodes holding the pointer at the last poll.", func(s Status) int64 { return int64(s.LastFound) }},
	}
	for _, g := range gauges {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", g.name, g.help, g.name); err != nil {
			return err
		}
		for _, s := range statuses {
			if _, err := fmt.Fprintf(w, "%s{db=%q,role=%q} %d\n", g.name, s.Address, s.Role, g.v(s)); err != nil {
				return err
			}
		}
	}
	return nil
}
