package bench

import (
	"fmt"
	"io"
)

// WriteText writes the sync benchmark's figures, one line per measure.
func (r SyncResult) WriteText(w io.Writer) {
	f := r.Full
	fmt.Fprintf(w, "Sync benchmark (loopback, TCP), %.0fs\n", r.Seconds)
	fmt.Fprintf(w, "full transfer of %s: ours %.1f MiB/s (%.2fs; SQLite check %.2fs more)\n",
		sizeString(f.Bytes), f.OursMiBps, f.OursSeconds, f.CheckSeconds)
	switch {
	case f.LibtorrentError != "":
		fmt.Fprintf(w, "  libtorrent: not measured: %s\n", f.LibtorrentError)
	case f.LibtorrentMiBps > 0:
		fmt.Fprintf(w, "  libtorrent %s: %.1f MiB/s (%.2fs) from the same seeder; ours/libtorrent %.2fx (target >= 1)\n",
			f.LibtorrentVersion, f.LibtorrentMiBps, f.LibtorrentSeconds, f.Ratio)
	}
	for _, d := range r.Deltas {
		target := "" // the delta target is for one changed row
		if d.RowsChanged == 1 {
			target = " (target <= 1%)"
		}
		fmt.Fprintf(w, "delta, %d rows changed in a %s database: received %s = %.3f%% of the database%s; %d of %d pieces of %s changed\n",
			d.RowsChanged, sizeString(d.DBBytes), sizeString(d.ReceivedBytes), 100*d.Ratio, target, d.PiecesChanged, d.Pieces, sizeString(d.PieceLength))
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "peak RSS of the fetching node: %s (target <= 150 MiB for 256 MiB)\n", sizeString(r.PeakRSSBytes))
	} else {
		fmt.Fprintln(w, "peak RSS of the fetching node: not measured (in-process run)")
	}
}
