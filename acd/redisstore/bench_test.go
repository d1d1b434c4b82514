package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
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
	once  sync.Once
	err   error
	redis *localstack.Redis
	dir   string
	rdb   *redis.Client
	store *Store
	pool  []map[acd.Skill]int
}

func TestMain(m *testing.M) {
	code := m.Run()
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
)

var benchStrategies = []acd.Strategy{acd.LongestIdle, acd.BestSkill, acd.FewestAnswered, acd.RoundRobin, acd.Linear}

// benchSetup starts one Redis for all benchmarks and logs in 10,000 agents
// with 3–5 of 100 skills each, and fills one queue per strategy with 1,000
// calls needing one or two skills.
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
	bench.rdb = redis.NewClient(&redis.Options{Addr: bench.redis.Addr})
	if bench.store, err = New(bench.rdb); err != nil {
		return err
	}
	if err := bench.store.Load(ctx); err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	pipe := bench.rdb.Pipeline()
	for i := 0; i < benchAgents; i++ {
		sk := map[acd.Skill]int{}
		args := []any{bench.store.prefix, fmt.Sprintf("agent%05d", i), rnd.IntN(100), "0"}
		for n := 3 + rnd.IntN(3); len(sk) < n; {
			s, lv := acd.Skill("skill"+strconv.Itoa(rnd.IntN(benchSkills))), 1+rnd.IntN(5)
			if _, dup := sk[s]; !dup {
				sk[s] = lv
				args = append(args, string(s), lv)
			}
		}
		bench.pool = append(bench.pool, sk)
		loginScript.EvalSha(ctx, pipe, nil, args...)
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
			if err := bench.store.Enqueue(ctx, benchCall(rnd, acd.QueueID(st), fmt.Sprintf("init-%s-%d", st, i))); err != nil {
				return err
			}
		}
	}
	return nil
}

func benchCall(rnd *rand.Rand, q acd.QueueID, id string) acd.Call {
	c := acd.Call{ID: acd.CallID(id), Queue: q, Priority: rnd.IntN(3)}
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

// BenchmarkPick measures one routing decision (the pick script) with 10,000
// agents, 100 skills and 1,000 waiting calls. After each pick the call is
// answered, the agent made available and a new call queued, outside the
// measured latency, so neither pool drains.
func BenchmarkPick(b *testing.B) {
	bench.once.Do(func() { bench.err = benchSetup() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	ctx := context.Background()
	s := bench.store
	for _, st := range benchStrategies {
		b.Run(string(st), func(b *testing.B) {
			q := acd.QueueID(st)
			rnd := rand.New(rand.NewPCG(uint64(b.N), 1))
			lat := make([]time.Duration, 0, b.N)
			var picking time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				a, err := s.Pick(ctx, q)
				d := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, d)
				picking += d
				if _, err := s.Release(ctx, a.Call, acd.Answered); err != nil {
					b.Fatal(err)
				}
				if _, err := s.SetState(ctx, a.Agent, acd.Available); err != nil {
					b.Fatal(err)
				}
				if err := s.Enqueue(ctx, benchCall(rnd, q, fmt.Sprintf("b-%s-%d", st, benchSeq.Add(1)))); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(float64(b.N)/picking.Seconds(), "decisions/s")
		})
	}
}
