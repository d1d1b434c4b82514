package cti_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/cti"
)

// BenchmarkPublish: wrap, number (agent events), encode and hand one event
// to NATS, with a subscriber on every event so the embedded server routes
// each one. p50 and p99 are per Publish call.
func BenchmarkPublish(b *testing.B) {
	ns := startNATS(b)
	bus := openBus(b, ns.url())
	sub := connect(b, ns.url())
	var received atomic.Int64
	if _, err := sub.Subscribe("cc.>", func(*nats.Msg) { received.Add(1) }); err != nil {
		b.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		b.Fatal(err)
	}
	at := time.Now().UTC()
	const n = 1024 // distinct events, built before timing
	cases := []struct {
		name string
		ev   func(i int) cti.Event
	}{
		{"agent_state", func(i int) cti.Event { // numbered on 100 agent streams
			return cti.AgentStateChanged{Agent: strconv.Itoa(1000 + i%100), From: "available", To: "reserved",
				CallID: "c-" + strconv.Itoa(i), At: at}
		}},
		{"queue_offered", func(i int) cti.Event {
			return cti.CallOffered{CallID: "c-" + strconv.Itoa(i), Queue: "trace", Agent: strconv.Itoa(1000 + i%100),
				Device: "PJSIP/" + strconv.Itoa(1000+i%100), Caller: "13800000001", WaitedMS: 1234, At: at}
		}},
		{"call_key", func(i int) cti.Event { return cti.CallKey{CallID: "c-" + strconv.Itoa(i), Key: "5"} }},
	}
	for _, c := range cases {
		events := make([]cti.Event, n)
		for i := range events {
			events[i] = c.ev(i)
		}
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if err := bus.Publish(ctx, events[i%n]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkCommand: one command round trip, client to server to handler
// and back, over the embedded server.
func BenchmarkCommand(b *testing.B) {
	ns := startNATS(b)
	serve(b, connect(b, ns.url()), &desk{board: cti.NewBoard()}, cti.ServeOptions{})
	c := newClient(b, connect(b, ns.url()), 5*time.Second)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := c.Answer(ctx, agent1001, cti.AnswerRequest{CallID: "c1"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns/op")
	b.ReportMetric(at(0.99), "p99-ns/op")
}
