package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/swarm"
)

// syncChildEnv, when set in the environment, makes the process a fetching
// node of the sync benchmark: it runs the job in the variable's JSON, prints
// a childResult as JSON on stdout and exits.
//
// Why a child process: the peak RSS of the fetching node is the figure, and
// a process's high-water mark (VmHWM) is only that node's own when nothing
// else (the seeder, the database generator) has run in it. The benchmark
// re-executes its own binary (dhtdb, or a test binary of this package), so
// the switch is taken in init, before the host program's main: neither the
// CLI nor the tests need to know of it.
const syncChildEnv = "DHTDB_BENCH_SYNC_FETCHER"

func init() {
	if job := os.Getenv(syncChildEnv); job != "" {
		os.Exit(childMain(job))
	}
}

// childJob is what the fetching child does.
type childJob struct {
	Infohash string        `json:"infohash"`
	Peer     string        `json:"peer"`
	Name     string        `json:"name"`
	Dir      string        `json:"dir"`
	Timeout  time.Duration `json:"timeout"`
}

// childResult is what it reports.
type childResult struct {
	TransferSeconds float64 `json:"transfer_seconds"` // Fetch to last piece
	CheckSeconds    float64 `json:"check_seconds"`    // the SQLite check
	Received        int64   `json:"received"`
	PeakRSS         int64   `json:"peak_rss"` // VmHWM, bytes; 0 in process
}

func childMain(jobJSON string) int {
	var job childJob
	if err := json.Unmarshal([]byte(jobJSON), &job); err != nil {
		fmt.Fprintf(os.Stderr, "sync fetcher: bad job: %v\n", err)
		return 2
	}
	res, err := runChildJob(context.Background(), job)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sync fetcher: %v\n", err)
		return 1
	}
	if res.PeakRSS, err = peakRSS(); err != nil {
		fmt.Fprintf(os.Stderr, "sync fetcher: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// runChildJob fetches the job's snapshot in this process.
func runChildJob(ctx context.Context, job childJob) (childResult, error) {
	var ih metainfo.Hash
	if err := ih.FromHexString(job.Infohash); err != nil {
		return childResult{}, err
	}
	peer, err := netip.ParseAddrPort(job.Peer)
	if err != nil {
		return childResult{}, err
	}
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Timeout)
		defer cancel()
	}
	sw, err := swarm.New(swarm.Config{ListenAddr: "127.0.0.1:0", DataDir: job.Dir})
	if err != nil {
		return childResult{}, err
	}
	defer sw.Close()
	var checkAt time.Time
	var received int64
	start := time.Now()
	_, err = sw.Fetch(ctx, ih, swarm.FetchOptions{Name: job.Name, Peers: []netip.AddrPort{peer},
		Progress: func(ev swarm.Event) {
			if ev.Phase >= swarm.PhaseCheck && checkAt.IsZero() {
				checkAt = time.Now()
				received = ev.Received
			}
		}})
	if err != nil {
		return childResult{}, err
	}
	end := time.Now()
	return childResult{
		TransferSeconds: checkAt.Sub(start).Seconds(),
		CheckSeconds:    end.Sub(checkAt).Seconds(),
		Received:        received,
	}, nil
}

// spawnChild runs job in a child process: this program again, switched to
// the fetcher by the environment.
func spawnChild(ctx context.Context, job childJob) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	b, err := json.Marshal(job)
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), syncChildEnv+"="+string(b))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("fetcher process: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return childResult{}, fmt.Errorf("fetcher process: bad output %q: %w", stdout.String(), err)
	}
	return res, nil
}

// peakRSS reads this process's VmHWM from /proc/self/status.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
