package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
routing-bench-server: redis 7.0.15
pkg: github.com/ccd-platform/ccd/acd/redisstore
BenchmarkPick/longest_idle/dispatchers=1-2         	    5833	    238059 ns/op	      4201 decisions/s	         0.2204 p50-ms	         0.9008 p99-ms	  40.0 redis-µs/decision	     832 B/op	      21 allocs/op
BenchmarkPickBatch/longest_idle/dispatchers=1-2    	   18482	     66377 ns/op	     15067 decisions/s	         0.4960 p50-ms	         0.9720 p99-ms	  42.5 redis-µs/decision	     374 B/op	       6 allocs/op
BenchmarkPickBatch/longest_idle/dispatchers=2-2    	   23346	     50111 ns/op	   99.5 copy-%	     20966 decisions/s	         0.7532 p50-ms	         1.374 p99-ms	  41.5 redis-µs/decision	     371 B/op	       6 allocs/op
BenchmarkPickBatch/best_skill/dispatchers=1-2      	   19285	     67569 ns/op	     14802 decisions/s	         0.5051 p50-ms	         0.8150 p99-ms	  44.0 redis-µs/decision	     373 B/op	       6 allocs/op
BenchmarkPickBatchScript/best_skill/dispatchers=1-2 	   19285	     67569 ns/op	     12000 decisions/s	         0.6 p50-ms	         0.95 p99-ms	  50.0 redis-µs/decision	     373 B/op	       6 allocs/op
`

func TestParseTakesOnlyBatchPicks(t *testing.T) {
	rows, server, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if server != "redis 7.0.15" {
		t.Errorf("server %q", server)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	r := rows[1]
	if r.strategy != "longest_idle" || r.dispatchers != 2 || r.rate != 20966 || r.p50 != 0.7532 || r.p99 != 1.374 || r.redisUS != 41.5 || r.script {
		t.Errorf("row %+v", r)
	}
	if r := rows[3]; !r.script || r.strategy != "best_skill" || r.rate != 12000 {
		t.Errorf("script row %+v", r)
	}
}

func TestVerdictNotMet(t *testing.T) {
	rows, server, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	render(&b, rows, server)
	out := b.String()
	for _, want := range []string{
		"| copy (100%) | longest_idle | 2 | 20,966 | 0.753 ms | 1.374 ms | 41.5 |  |",
		"| copy | longest_idle | 1 | 15,067 |",
		"| script | best_skill | 1 | 12,000 | 0.600 ms | 0.950 ms | 50.0 |  |",
		"**Goal not met in this run.** The most decisions/s with p99 under 1 ms: 15,067 (longest_idle, 1 dispatcher, copy, p99 0.972 ms).",
		"Deciding in the copy, Redis spends 43 µs per decision on average, a ceiling of about 23,400 decisions/s",
		"Deciding in the script, Redis spends 50 µs per decision on average, a ceiling of about 20,000 decisions/s",
		"one Redis (redis 7.0.15)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestVerdictMet(t *testing.T) {
	in := "routing-bench-server: valkey 9.1.2\nBenchmarkPickBatch/longest_idle/dispatchers=1-2 10 5 ns/op 21000 decisions/s 0.4 p50-ms 0.8 p99-ms\n"
	rows, server, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	render(&b, rows, server)
	if !strings.Contains(b.String(), "**Goal met** by longest_idle with 1 dispatcher (copy).") || !strings.Contains(b.String(), "| copy | longest_idle | 1 | 21,000 | 0.400 ms | 0.800 ms | – | met |") {
		t.Errorf("verdict:\n%s", b.String())
	}
}

func TestBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"none":        "routing-bench-server: redis 7\nBenchmarkPick/x/dispatchers=1-2 1 2 ns/op\n",
		"no server":   "BenchmarkPickBatch/a/dispatchers=1-2 1 2 ns/op 3 decisions/s 1 p50-ms 2 p99-ms\n",
		"bad name":    "BenchmarkPickBatch/longest_idle-2 1 2 ns/op 3 decisions/s 1 p50-ms 2 p99-ms\n",
		"missing p99": "BenchmarkPickBatch/a/dispatchers=1-2 1 2 ns/op 3 decisions/s 1 p50-ms\n",
		"bad number":  "BenchmarkPickBatch/a/dispatchers=1-2 1 2 ns/op x decisions/s 1 p50-ms 2 p99-ms\n",
	} {
		if _, _, err := parse(strings.NewReader("routing-bench-server: redis 7\n" + in)); err == nil && name != "no server" {
			t.Errorf("%s: no error", name)
		}
		if _, _, err := parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
