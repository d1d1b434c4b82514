// Package bench measures the hotline end to end on this machine: real SIP
// callers, a private Asterisk, ccd with text-to-speech and the trace
// catalog. `make bench` runs it and writes bench-report.md with the setup
// and p50/p99 figures. Compare ratios within one run: machines here are noisy.
package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
	"github.com/ccd-platform/ccd/trace"
)

var (
	stack  *harness.Stack
	codes  []trace.Code
	report strings.Builder
	repMu  sync.Mutex
)

const benchDID = "4006009000"

// benchFlow: key the code, hear the answer, hang up.
const benchFlow = `name: bench
languages: [en]
default_language: en
start: code
nodes:
  code:
    type: collect
    prompt: {text: {en: "Enter the code."}}
    var: code
    min: 8
    max: 20
    terminator: "#"
    validator: trace_code
    first_timeout: 10s
    retries: 1
    next: lookup
    fail_next: bye
  lookup:
    type: trace_lookup
    code_var: code
    found_next: readout
    not_found_next: bye
    error_next: bye
  readout:
    type: play
    prompt: {text: {en: "Product: ${trace.product}. Origin: ${trace.origin}."}}
    next: bye
  bye:
    type: hangup
`

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run()) // no benchmark asked for (make test): no stack needed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	// Agents 2001-2020 for the queue drains, and app_queue on appQueueDID
	// as their baseline; the hotline benchmarks use neither. ccd tells
	// ariTimes when it read each ARI event (BenchmarkARIToNATS).
	s, err := harness.StartWith(ctx, harness.Options{Agents: benchAgents(), AppQueueDID: appQueueDID,
		ARIReceived: ariTimes.observe})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: the private stack did not start: %v\n", err)
		if s != nil {
			s.Close()
		}
		os.Exit(1)
	}
	stack = s
	if d, err := time.ParseDuration(os.Getenv("BENCH_ARI_TIMEOUT")); err == nil {
		s.Config.ARI.RequestTimeout = d
		if err := s.RestartCCD(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			s.Close()
			os.Exit(1)
		}
	}
	recs := trace.Generate(400, 11)
	if err := trace.NewPGCatalog(s.DB).Upsert(ctx, recs...); err != nil {
		fmt.Fprintf(os.Stderr, "bench: catalog: %v\n", err)
		s.Close()
		os.Exit(1)
	}
	for _, r := range recs {
		codes = append(codes, r.Code)
	}
	if err := s.PublishFlow(ctx, "bench", []byte(benchFlow), benchDID); err != nil {
		fmt.Fprintf(os.Stderr, "bench: flow: %v\n", err)
		s.Close()
		os.Exit(1)
	}
	cancel()
	fmt.Fprintf(&report, "# Hotline benchmarks\n\nSetup: %s, %d cores (GOMAXPROCS %d), %s; one machine runs the SIP callers (diago), Asterisk 22 (chrooted), ccd, PostgreSQL, Redis; loopback only; espeak-ng TTS.\n\n",
		runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	code := m.Run()
	s.Close()
	if out := os.Getenv("BENCH_REPORT"); out != "" && code == 0 {
		_ = os.WriteFile(out, []byte(report.String()), 0o644)
	}
	fmt.Print(report.String())
	os.Exit(code)
}

// answerLatency places one call keying code and returns the time from the
// end of the caller's # to the first audio of the spoken answer.
var callSeq atomic.Int64

func answerLatency(ctx context.Context, code trace.Code) (time.Duration, error) {
	caller := fmt.Sprintf("1390%07d", callSeq.Add(1))
	keys := strings.Join(strings.Split(string(code), ""), ",")
	d, err := sipcall.ParseDigits("w200,"+keys+",#", 120*time.Millisecond)
	if err != nil {
		return 0, err
	}
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: benchDID, From: caller, Digits: d, MaxDuration: 60 * time.Second,
	})
	if err != nil {
		return 0, err
	}
	if !res.Answered {
		return 0, fmt.Errorf("not answered: %d", res.StatusCode)
	}
	var hash time.Duration = -1
	for _, e := range res.Events {
		if e.Type == sipcall.EventDigitSent && e.Digit == '#' {
			hash = e.At.Sub(res.AnsweredAt)
		}
	}
	if hash < 0 {
		return 0, fmt.Errorf("# was not sent: %s", lastRecord(ctx, caller))
	}
	for _, s := range audio.ActiveSegments(res.Heard) {
		if s.Start >= hash {
			return s.Start - hash, nil
		}
	}
	return 0, fmt.Errorf("no answer heard after # (heard %s; %s)", res.Heard.Duration(), lastRecord(ctx, caller))
}

// lastRecord describes the call's record, for failure messages.
func lastRecord(ctx context.Context, caller string) string {
	var got string
	err := stack.DB.QueryRow(ctx, `SELECT 'keyed '||digits||', outcome '||outcome||', '||error FROM call_records
		WHERE caller_number = $1 ORDER BY started_at DESC LIMIT 1`, caller).Scan(&got)
	if err != nil {
		return "no record: " + err.Error()
	}
	return got
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

var answerHeader sync.Once

func record(b *testing.B, name string, lat []time.Duration, ok, total int) {
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*float64(ok)/float64(total), "success-%")
	repMu.Lock()
	defer repMu.Unlock()
	answerHeader.Do(func() {
		fmt.Fprintf(&report, "\n## Trace code answer latency\n\nFrom the end of the caller's # to the first audio of the spoken answer (20 ms windows).\n\n"+
			"| case | answered | p50 | p99 | max |\n|---|---|---|---|---|\n")
	})
	fmt.Fprintf(&report, "| %s | %d/%d answered | p50 %s | p99 %s | max %s |\n", name, ok, total,
		p50.Round(time.Millisecond), p99.Round(time.Millisecond), percentile(lat, 1).Round(time.Millisecond))
}

// From the end of # to the first audio of the answer, one caller at a time.
// Cold: the code's read-out is rendered for this call. Warm: it was rendered before.
func BenchmarkAnswerLatency(b *testing.B) {
	const calls = 12
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var lat []time.Duration
			ok := 0
			for i := 0; i < calls; i++ {
				code := codes[i] // cold: first time these codes are read out
				if mode == "warm" {
					code = codes[0]
					if i == 0 {
						_, _ = answerLatency(ctx, code) // renders it
					}
				}
				d, err := answerLatency(ctx, code)
				if err != nil {
					b.Logf("call %d: %v", i, err)
					continue
				}
				ok++
				lat = append(lat, d)
			}
			record(b, "# → answer, "+mode+" cache, sequential", lat, ok, calls)
		})
	}
}

// Many callers at once doing trace lookups.
func BenchmarkConcurrentLookups(b *testing.B) {
	for _, n := range []int{50, 100} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var mu sync.Mutex
			var lat []time.Duration
			ok := 0
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					time.Sleep(time.Duration(i) * 20 * time.Millisecond) // callers arrive over a second or two
					d, err := answerLatency(ctx, codes[1+i%50])
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						b.Logf("caller %d: %v", i, err)
						return
					}
					ok++
					lat = append(lat, d)
				}(i)
			}
			wg.Wait()
			record(b, fmt.Sprintf("# → answer, %d concurrent callers", n), lat, ok, n)
		})
	}
}
