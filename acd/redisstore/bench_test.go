package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/internal/localstack"
)

var benchSeq atomic.Int64

var bench struct {
	once   sync.Once
	err    error
	redis  *localstack.Redis
	dir    string
	rdb    *redis.Client
	server string // name and version
	store  *Store
	pool   []map[acd.Skill]int
	mu     sync.Mutex
	rnd    *rand.Rand
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.server != "" {
		// On a line of its own after the results: bench-report.md names the server.
		fmt.Printf("routing-bench-server: %s\n", bench.server)
	}
	if bench.redis != nil {
		bench.rdb.Close()
		bench.redis.Stop(context.Background())
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

const (
	benchAgents = 10000
	benchSkills = 100
	benchCalls  = 1000
	// benchPhase is how many picks run between two refills.
	benchPhase = 512
)

var (
	benchStrategies  = []acd.Strategy{acd.LongestIdle, acd.BestSkill, acd.FewestAnswered, acd.RoundRobin, acd.Linear}
	benchDispatchers = []int{1, 2, 4, 8}
)

// benchSetup starts one Redis for all benchmarks and logs in 10,000 agents
// with 3–5 of 100 skills each (levels 1–5), and fills one queue per strategy
// with 1,000 calls needing one or two skills some agent has.
func benchSetup() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ccd-acd-bench-")
	if err != nil {
		return err
	}
	bench.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	port, err := localstack.FreePort()
	if err != nil {
		return err
	}
	if bench.redis, err = localstack.StartRedis(ctx, dir, port); err != nil {
		return err
	}
	bench.rdb = redis.NewClient(&redis.Options{Addr: bench.redis.Addr, PoolSize: 32})
	if bench.server, err = serverVersion(ctx, bench.rdb); err != nil {
		return err
	}
	if err := benchFill(ctx); err != nil {
		return err
	}
	// ccd reads the routing state once at start; so does the benchmark,
	// untimed, before the first decision.
	return bench.store.syncCopy(ctx)
}

// serverVersion is the server's name and version ("redis 7.0.15"), which
// TestMain prints after the benchmarks for the report.
func serverVersion(ctx context.Context, rdb *redis.Client) (string, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	name, version := "redis", ""
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		switch {
		case !ok:
		case k == "server_name":
			name = v
		case k == "valkey_version" || (k == "redis_version" && version == ""):
			version = v
		}
	}
	return name + " " + version, nil
}

// benchFill logs the agents in and queues the calls.
func benchFill(ctx context.Context) error {
	var err error
	if bench.store, err = New(bench.rdb); err != nil {
		return err
	}
	if err := bench.store.Load(ctx); err != nil {
		return err
	}
	bench.rnd = rand.New(rand.NewPCG(7, 7))
	rnd := bench.rnd
	pipe := bench.rdb.Pipeline()
	for i := 0; i < benchAgents; i++ {
		sk := map[acd.Skill]int{}
		for n := 3 + rnd.IntN(3); len(sk) < n; {
			s := acd.Skill("skill" + strconv.Itoa(rnd.IntN(benchSkills)))
			if _, dup := sk[s]; !dup {
				sk[s] = 1 + rnd.IntN(5)
			}
		}
		bench.pool = append(bench.pool, sk)
		loginScript.EvalSha(ctx, pipe, nil, bench.store.prefix, fmt.Sprintf("agent%05d", i), rnd.IntN(100), "0", encodeSkills(sk))
		if i%500 == 499 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	for _, st := range benchStrategies {
		if err := bench.store.SetQueue(ctx, acd.Queue{ID: acd.QueueID(st), Strategy: st}); err != nil {
			return err
		}
		for i := 0; i < benchCalls; i++ {
			if err := bench.store.Enqueue(ctx, benchCall(acd.QueueID(st))); err != nil {
				return err
			}
		}
	}
	return nil
}

func benchCall(q acd.QueueID) acd.Call {
	bench.mu.Lock()
	defer bench.mu.Unlock()
	rnd := bench.rnd
	c := acd.Call{ID: acd.CallID(fmt.Sprintf("b-%s-%d", q, benchSeq.Add(1))), Queue: q, Priority: rnd.IntN(3)}
	n := 1 + rnd.IntN(2)
	for sk, lv := range bench.pool[rnd.IntN(len(bench.pool))] {
		if n == 0 {
			break
		}
		n--
		c.Skills = append(c.Skills, acd.Requirement{Skill: sk, MinLevel: 1 + rnd.IntN(lv)})
	}
	return c
}

func benchStart(b *testing.B) *Store {
	b.Helper()
	bench.once.Do(func() { bench.err = benchSetup() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.store
}

// BenchmarkPick measures routing decisions (Store.Pick: chosen in the
// routing copy, checked and reserved by reserveScript) with 10,000 agents,
// 100 skills and 1,000 waiting calls per strategy, made by 1, 2, 4 and 8
// concurrent dispatchers of one ccd (sharing its copy) against one Redis
// (and the machine's cores). The picks run in phases of 512; between
// phases, untimed, every picked call is answered and finished (the agent
// available again) and a new call queued in one pipeline, so neither pool
// drains. p50-ms and p99-ms are one pick's latency as a dispatcher sees it,
// queueing in Redis included; redis-µs/decision is Redis's time on routing
// (scripts and feed reads) per decision.
func BenchmarkPick(b *testing.B) {
	s := benchStart(b)
	for _, st := range benchStrategies {
		for _, n := range benchDispatchers {
			b.Run(fmt.Sprintf("%s/dispatchers=%d", st, n), func(b *testing.B) {
				benchPicks(b, s, acd.QueueID(st), n, 1)
			})
		}
	}
}

// BenchmarkPickBatch is BenchmarkPick with PickBatch making up to 8
// decisions per script; the latencies are of one batch.
func BenchmarkPickBatch(b *testing.B) {
	s := benchStart(b)
	for _, st := range benchStrategies {
		for _, n := range benchDispatchers {
			b.Run(fmt.Sprintf("%s/dispatchers=%d", st, n), func(b *testing.B) {
				benchPicks(b, s, acd.QueueID(st), n, 8)
			})
		}
	}
}

// BenchmarkPickBatchScript is BenchmarkPickBatch with the decisions made
// inside Redis (pickScript, no routing copy), on the same Redis and data,
// for comparison.
func BenchmarkPickBatchScript(b *testing.B) {
	benchStart(b)
	s, err := New(bench.rdb, WithRoutingCopy(false))
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range benchStrategies {
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/dispatchers=%d", st, n), func(b *testing.B) {
				benchPicks(b, s, acd.QueueID(st), n, 8)
			})
		}
	}
}

// benchPicks runs b.N decisions in phases, batch decisions per script.
func benchPicks(b *testing.B, s *Store, q acd.QueueID, dispatchers, batch int) {
	ctx := context.Background()
	lat := make([][]time.Duration, dispatchers)
	var timed time.Duration
	var scriptUS float64
	decided := 0
	rc0 := s.RoutingCounts()
	b.ResetTimer()
	for decided < b.N {
		phase := min(b.N-decided, benchPhase)
		var next atomic.Int64
		picked := make([][]acd.Assignment, dispatchers)
		errs := make([]error, dispatchers)
		var wg sync.WaitGroup
		b.StopTimer()
		us0, err := routingMicros(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		for g := range dispatchers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := min(int64(batch), int64(phase)-next.Load())
					if n <= 0 {
						return
					}
					t := time.Now()
					as, err := s.PickBatch(ctx, q, int(n))
					d := time.Since(t)
					if err != nil {
						errs[g] = err
						return
					}
					next.Add(int64(len(as)))
					lat[g] = append(lat[g], d)
					picked[g] = append(picked[g], as...)
				}
			}()
		}
		wg.Wait()
		timed += time.Since(t0)
		b.StopTimer()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		us1, err := routingMicros(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		scriptUS += us1 - us0
		all := slices.Concat(picked...)
		if err := benchRefill(ctx, s, q, all); err != nil {
			b.Fatal(err)
		}
		// The refill is a burst of 1,536 changes at once; ccd's feed reader
		// takes in changes as they come, between decisions. So the copy
		// reads this burst before the next phase, untimed (BenchmarkCycle
		// times decisions with every change in between, feed included).
		if err := s.syncCopy(ctx); err != nil {
			b.Fatal(err)
		}
		decided += len(all)
		b.StartTimer()
	}
	b.StopTimer()
	reportLatency(b, slices.Concat(lat...), decided, timed)
	b.ReportMetric(scriptUS/float64(decided), "redis-µs/decision")
	// How much of it the copy decided: the rest went to pickScript.
	b.ReportMetric(float64(s.RoutingCounts().Copy-rc0.Copy)*100/float64(decided), "copy-%")
}

// routingMicros is the time Redis has spent on routing, in µs, from INFO
// commandstats: running scripts (EVALSHA) and serving the routing feed to
// the copy (XRANGE, XREAD, XINFO).
func routingMicros(ctx context.Context, s *Store) (float64, error) {
	info, err := s.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	var us float64
	for _, l := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		switch name {
		case "cmdstat_evalsha", "cmdstat_xrange", "cmdstat_xread", "cmdstat_xinfo|stream":
		default:
			ok = false
		}
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, err
				}
				us += n
			}
		}
	}
	return us, nil
}

// benchRefill answers and finishes the picked calls and queues as many new
// ones, in one pipeline.
func benchRefill(ctx context.Context, s *Store, q acd.QueueID, picked []acd.Assignment) error {
	pipe := s.rdb.Pipeline()
	for _, a := range picked {
		releaseScript.EvalSha(ctx, pipe, nil, s.prefix, string(a.Call), string(acd.Answered))
		finishScript.EvalSha(ctx, pipe, nil, s.prefix, string(a.Call))
		c := benchCall(q)
		enqueueScript.EvalSha(ctx, pipe, nil, s.prefix, string(c.Queue), string(c.ID), c.Priority,
			encodeReqs(c.Skills), "", "", 0, 0, "", "")
	}
	_, err := pipe.Exec(ctx)
	return err
}

// BenchmarkCycle measures whole call cycles: each dispatcher picks, answers,
// finishes and queues a new call, one round trip each, all concurrently, so
// decisions/s is the sustained rate with the bookkeeping of every call
// competing for Redis; the latencies are of the picks.
func BenchmarkCycle(b *testing.B) {
	s := benchStart(b)
	for _, st := range benchStrategies {
		for _, n := range benchDispatchers {
			b.Run(fmt.Sprintf("%s/dispatchers=%d", st, n), func(b *testing.B) {
				benchCycles(b, s, acd.QueueID(st), n)
			})
		}
	}
}

func benchCycles(b *testing.B, s *Store, q acd.QueueID, dispatchers int) {
	ctx := context.Background()
	lat := make([][]time.Duration, dispatchers)
	errs := make([]error, dispatchers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for g := range dispatchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = func() error {
				for next.Add(1) <= int64(b.N) {
					t := time.Now()
					a, err := s.Pick(ctx, q)
					d := time.Since(t)
					if err != nil {
						return err
					}
					lat[g] = append(lat[g], d)
					if _, err := s.Release(ctx, a.Call, acd.Answered); err != nil {
						return err
					}
					if _, err := s.Finish(ctx, a.Call); err != nil {
						return err
					}
					if err := s.Enqueue(ctx, benchCall(q)); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	reportLatency(b, slices.Concat(lat...), b.N, wall)
}

func reportLatency(b *testing.B, lat []time.Duration, decisions int, wall time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	b.ReportMetric(float64(decisions)/wall.Seconds(), "decisions/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
