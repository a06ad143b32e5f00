package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes the result as a table, one row per operation kind and
// network, then the ratios.
func (r DHTResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "DHT benchmark: %d nodes, seed %d, RTT %.0f-%.0f ms, loss %.1f%%, silent %.0f%%, %d puts then %d gets (%.0fs)\n",
		r.Nodes, r.Seed, r.MinRTTms, r.MaxRTTms, 100*r.Loss, 100*r.Silent, r.Puts, r.Gets, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "network\top\tp50 ms\tp95 ms\tmean ms\tsuccess\tstored/8\tmsgs/op\t")
	row := func(name string, ir *ImplResult) {
		if ir == nil {
			return
		}
		if ir.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t\t\n", name)
			return
		}
		p, g := ir.Put, ir.Get
		fmt.Fprintf(tw, "%s\tput\t%.0f\t%.0f\t%.0f\t%.1f%%\t%.2f\t%.1f\t\n",
			name, p.P50ms, p.P95ms, p.MeanMs, 100*p.Success, p.StoredMean, p.Msgs)
		fmt.Fprintf(tw, "%s\tget\t%.0f\t%.0f\t%.0f\t%.1f%%\t\t%.1f\t\n",
			name, g.P50ms, g.P95ms, g.MeanMs, 100*g.Success, g.Msgs)
	}
	row(ImplOurs, r.Ours)
	row(ImplAnacrolix, r.Anacrolix)
	row(ImplAnacrolixClient, r.AnacrolixClient)
	tw.Flush()
	for _, x := range []struct {
		name string
		ir   *ImplResult
	}{{ImplOurs, r.Ours}, {ImplAnacrolix, r.Anacrolix}, {ImplAnacrolixClient, r.AnacrolixClient}} {
		if x.ir == nil {
			continue
		}
		if x.ir.Error != "" {
			fmt.Fprintf(w, "%s: failed: %s\n", x.name, x.ir.Error)
			continue
		}
		rep := "not reported"
		if x.ir.Put.Reported >= 0 {
			rep = fmt.Sprintf("%.2f", x.ir.Put.Reported)
		}
		fmt.Fprintf(w, "%s: built in %.0fs, mean routing table %.0f nodes, %d packets during the ops, put-reported stored %s\n",
			x.name, x.ir.BuildSeconds, x.ir.TableMean, x.ir.Packets, rep)
	}
	if q := r.Ratio; q != nil {
		fmt.Fprintf(w, "anacrolix/ours latency: get p50 %.1fx, get p95 %.1fx, put p50 %.1fx, put p95 %.1fx\n",
			q.GetP50, q.GetP95, q.PutP50, q.PutP95)
		if q.ClientGetP50 > 0 {
			fmt.Fprintf(w, "anacrolix-client/ours latency: get p50 %.1fx, put p50 %.1fx\n", q.ClientGetP50, q.ClientPutP50)
		}
	}
}
