package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/pgstore"
	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/internal/localstack"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
)

// TestStore runs against one private PostgreSQL; each subtest gets its own
// schema, migrated from scratch.
func TestStore(t *testing.T) {
	pg := localstacktest.StartPostgres(t)
	tests := []struct {
		name string
		run  func(t *testing.T, s *pgstore.Store)
	}{
		{"queue round trip", testQueueRoundTrip},
		{"queue refused", testQueueRefused},
		{"queue overflow", testQueueOverflow},
		{"queue overflow cycle race", testQueueCycleRace},
		{"agents", testAgents},
		{"pause reasons", testPauseReasons},
		{"last agent", testLastAgent},
		{"state log", testStateLog},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, pgstore.New(schemaPool(t, pg, fmt.Sprintf("t%d", i))))
		})
	}
}

func schemaPool(t *testing.T, pg *localstack.Postgres, schema string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := db.Open(ctx, pg.DSN+"&search_path="+schema, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func putQueue(t *testing.T, s *pgstore.Store, q acd.QueueConfig, wantCreated bool) {
	t.Helper()
	created, err := s.PutQueue(ctx(t), q)
	if err != nil || created != wantCreated {
		t.Fatalf("PutQueue(%s) = %v, %v; want created %v", q.ID, created, err, wantCreated)
	}
}

func testQueueRoundTrip(t *testing.T, s *pgstore.Store) {
	trace := acd.QueueConfig{
		ID: "trace", Name: "Traceability", Strategy: acd.BestSkill,
		Skills:    []acd.Requirement{{Skill: "trace", MinLevel: 1}},
		Expansion: []acd.ExpansionStep{{After: 30, Skills: []acd.Requirement{{Skill: "general", MinLevel: 1}}}},
		MaxWait:   300, Overflow: "message", AnnounceEvery: 30, CallbackAllowed: true,
		LastAgentDays: 7, LastAgentWait: 10, PriorityStep: 2.5,
	}
	putQueue(t, s, trace, true)
	got, err := s.Queue(ctx(t), "trace")
	if err != nil {
		t.Fatal(err)
	}
	want := trace
	want.Defaults()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Queue(trace) =\n%+v\nwant (defaults applied)\n%+v", got, want)
	}
	if got.OfferTimeout != 15 || got.RetryDelay != 10 || got.HoldMusic != "default" {
		t.Errorf("defaults not applied: %+v", got)
	}

	trace.Name = "Trace codes"
	putQueue(t, s, trace, false)
	putQueue(t, s, acd.QueueConfig{ID: "aftersales"}, true)
	list, err := s.Queues(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "aftersales" || list[1].ID != "trace" || list[1].Name != "Trace codes" {
		t.Fatalf("Queues = %+v", list)
	}

	if _, err := s.Queue(ctx(t), "nope"); !errors.Is(err, acd.ErrNotFound) {
		t.Errorf("Queue(nope): %v, want ErrNotFound", err)
	}
	if err := s.DeleteQueue(ctx(t), "trace"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteQueue(ctx(t), "trace"); !errors.Is(err, acd.ErrNotFound) {
		t.Errorf("second DeleteQueue: %v, want ErrNotFound", err)
	}
}

func testQueueRefused(t *testing.T, s *pgstore.Store) {
	putQueue(t, s, acd.QueueConfig{ID: "general"}, true)
	tests := []struct {
		name string
		q    acd.QueueConfig
		want string // in the error
	}{
		{"bad id", acd.QueueConfig{ID: "Bad ID"}, `id "Bad ID"`},
		{"bad strategy", acd.QueueConfig{ID: "q", Strategy: "random"}, `strategy "random"`},
		{"skill level", acd.QueueConfig{ID: "q", Skills: []acd.Requirement{{Skill: "trace", MinLevel: 9}}}, "skills[0]"},
		{"expansion order", acd.QueueConfig{ID: "q", Expansion: []acd.ExpansionStep{{After: 30}, {After: 10}}}, "expansion[1].after_s"},
		{"announce too often", acd.QueueConfig{ID: "q", AnnounceEvery: 5}, "announce_every_s"},
		{"bad overflow", acd.QueueConfig{ID: "q", Overflow: "elsewhere"}, "overflow"},
		{"overflow to itself", acd.QueueConfig{ID: "q", Overflow: "queue:q"}, "itself"},
		{"overflow to nothing", acd.QueueConfig{ID: "q", Overflow: "queue:missing"}, "there is no queue missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutQueue(ctx(t), tt.q)
			if !errors.Is(err, acd.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PutQueue: %v; want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
	if list, err := s.Queues(ctx(t)); err != nil || len(list) != 1 {
		t.Fatalf("refused queues were stored: %+v, %v", list, err)
	}
}

func testQueueOverflow(t *testing.T, s *pgstore.Store) {
	putQueue(t, s, acd.QueueConfig{ID: "general"}, true)
	putQueue(t, s, acd.QueueConfig{ID: "aftersales", Overflow: "queue:general", MaxWait: 120}, true)
	putQueue(t, s, acd.QueueConfig{ID: "trace", Overflow: "queue:aftersales", MaxWait: 60}, true)

	// general → trace would close general → trace → aftersales → general.
	_, err := s.PutQueue(ctx(t), acd.QueueConfig{ID: "general", Overflow: "queue:trace"})
	if !errors.Is(err, acd.ErrInvalid) || !strings.Contains(err.Error(), "general → trace → aftersales → general") {
		t.Fatalf("cycle: %v", err)
	}

	err = s.DeleteQueue(ctx(t), "general")
	if !errors.Is(err, pgstore.ErrInUse) || !errors.Is(err, acd.ErrInvalid) || !strings.Contains(err.Error(), "overflow of queue aftersales") {
		t.Fatalf("DeleteQueue(general) with aftersales overflowing to it: %v", err)
	}
	// Once nothing overflows to it, it goes.
	putQueue(t, s, acd.QueueConfig{ID: "aftersales", Overflow: "message", MaxWait: 120}, false)
	if err := s.DeleteQueue(ctx(t), "general"); err != nil {
		t.Fatal(err)
	}
	if q, err := s.Queue(ctx(t), "trace"); err != nil || q.Overflow != "queue:aftersales" {
		t.Fatalf("trace: %+v, %v", q, err)
	}
}

// testQueueCycleRace: two admins point two queues at each other at the
// same moment; exactly one succeeds.
func testQueueCycleRace(t *testing.T, s *pgstore.Store) {
	for round := range 20 {
		a, b := acd.QueueID(fmt.Sprintf("a%d", round)), acd.QueueID(fmt.Sprintf("b%d", round))
		putQueue(t, s, acd.QueueConfig{ID: a}, true)
		putQueue(t, s, acd.QueueConfig{ID: b}, true)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, q := range []acd.QueueConfig{{ID: a, Overflow: "queue:" + string(b)}, {ID: b, Overflow: "queue:" + string(a)}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.PutQueue(ctx(t), q)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: errors %v and %v; want exactly one refused", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, acd.ErrInvalid) {
				t.Fatalf("round %d: %v, want ErrInvalid", round, err)
			}
		}
	}
}

func testAgents(t *testing.T, s *pgstore.Store) {
	a1 := acd.AgentConfig{ID: "1001", Name: "Li Na", Team: "trace", Device: "PJSIP/1001",
		Skills: map[acd.Skill]int{"trace": 3, "general": 2}, Rank: 1}
	a2 := acd.AgentConfig{ID: "1002", Name: "Wang Wei", Device: "PJSIP/1002", Rank: 0}
	for _, a := range []acd.AgentConfig{a1, a2} {
		if created, err := s.PutAgent(ctx(t), a); err != nil || !created {
			t.Fatalf("PutAgent(%s) = %v, %v", a.ID, created, err)
		}
	}
	got, err := s.Agent(ctx(t), "1001")
	if err != nil || !reflect.DeepEqual(got, a1) {
		t.Fatalf("Agent(1001) = %+v, %v; want %+v", got, err, a1)
	}
	a1.Skills["aftersales"] = 4
	if created, err := s.PutAgent(ctx(t), a1); err != nil || created {
		t.Fatalf("update: %v, %v", created, err)
	}
	list, err := s.Agents(ctx(t))
	if err != nil || len(list) != 2 || list[0].ID != "1002" || list[1].Skills["aftersales"] != 4 {
		t.Fatalf("Agents = %+v, %v (want rank order, update kept)", list, err)
	}
	if list[0].Skills == nil {
		t.Errorf("agent without skills reads back nil skills; want an empty map")
	}

	for _, tt := range []struct {
		name string
		a    acd.AgentConfig
		want string
	}{
		{"empty id", acd.AgentConfig{}, `id ""`},
		{"bad device", acd.AgentConfig{ID: "1003", Device: "1003"}, `device "1003"`},
		{"bad level", acd.AgentConfig{ID: "1003", Skills: map[acd.Skill]int{"trace": 0}}, "level 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.PutAgent(ctx(t), tt.a); !errors.Is(err, acd.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PutAgent: %v; want ErrInvalid naming %q", err, tt.want)
			}
		})
	}

	// Deleting an agent makes callers forget them.
	if err := s.RememberAgent(ctx(t), "13800138000", "1001", "trace", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAgent(ctx(t), "1001"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.LastAgent(ctx(t), "13800138000", time.Hour); ok || err != nil {
		t.Errorf("LastAgent after the agent was deleted: %v, %v", ok, err)
	}
	if _, err := s.Agent(ctx(t), "1001"); !errors.Is(err, acd.ErrNotFound) {
		t.Errorf("Agent after delete: %v", err)
	}
	if err := s.DeleteAgent(ctx(t), "1001"); !errors.Is(err, acd.ErrNotFound) {
		t.Errorf("second DeleteAgent: %v", err)
	}
}

func testPauseReasons(t *testing.T, s *pgstore.Store) {
	list, err := s.PauseReasons(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	seeded := map[string]bool{}
	for _, p := range list {
		seeded[p.Code] = p.Productive
	}
	want := map[string]bool{"break": false, "lunch": false, "training": true, "meeting": true, "back_office": true, acd.PauseMissedOffers: false}
	if !reflect.DeepEqual(seeded, want) {
		t.Fatalf("seeded pause reasons %v, want %v", seeded, want)
	}
	if p, err := s.PauseReason(ctx(t), acd.PauseMissedOffers); err != nil || p.Label != "Missed offers" {
		t.Fatalf("missed_offers: %+v, %v", p, err)
	}

	if created, err := s.PutPauseReason(ctx(t), acd.PauseReason{Code: "coaching", Label: "Coaching", Productive: true}); err != nil || !created {
		t.Fatalf("put coaching: %v, %v", created, err)
	}
	if created, err := s.PutPauseReason(ctx(t), acd.PauseReason{Code: "lunch", Label: "Lunch break"}); err != nil || created {
		t.Fatalf("update lunch: %v, %v", created, err)
	}
	if p, err := s.PauseReason(ctx(t), "lunch"); err != nil || p.Label != "Lunch break" {
		t.Fatalf("lunch: %+v, %v", p, err)
	}

	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"put without label", func() error { _, err := s.PutPauseReason(ctx(t), acd.PauseReason{Code: "x"}); return err }, acd.ErrInvalid},
		{"put bad code", func() error { _, err := s.PutPauseReason(ctx(t), acd.PauseReason{Code: "X Y", Label: "x"}); return err }, acd.ErrInvalid},
		{"delete missed_offers", func() error { return s.DeletePauseReason(ctx(t), acd.PauseMissedOffers) }, pgstore.ErrInUse},
		{"delete unknown", func() error { return s.DeletePauseReason(ctx(t), "nope") }, acd.ErrNotFound},
		{"read unknown", func() error { _, err := s.PauseReason(ctx(t), "nope"); return err }, acd.ErrNotFound},
		{"delete coaching", func() error { return s.DeletePauseReason(ctx(t), "coaching") }, nil},
		{"coaching is gone", func() error { _, err := s.PauseReason(ctx(t), "coaching"); return err }, acd.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := s.PauseReason(ctx(t), acd.PauseMissedOffers); err != nil {
		t.Fatalf("missed_offers is gone: %v", err)
	}
}

func testLastAgent(t *testing.T, s *pgstore.Store) {
	now := time.Now()
	remember := func(caller string, agent acd.AgentID, at time.Time) {
		t.Helper()
		if err := s.RememberAgent(ctx(t), caller, agent, "trace", at); err != nil {
			t.Fatal(err)
		}
	}
	remember("13800138000", "1001", now.Add(-48*time.Hour))
	remember("13800138000", "1002", now.Add(-time.Hour))
	remember("13800138000", "1003", now.Add(-72*time.Hour)) // older than the kept one: ignored
	remember("13900139000", "1003", now.Add(-10*24*time.Hour))
	remember("", "1001", now) // withheld numbers are not remembered

	tests := []struct {
		name   string
		caller string
		within time.Duration
		want   acd.AgentID
		ok     bool
	}{
		{"latest agent wins", "13800138000", 7 * 24 * time.Hour, "1002", true},
		{"within the window", "13800138000", 2 * time.Hour, "1002", true},
		{"outside the window", "13800138000", 30 * time.Minute, "", false},
		{"too long ago", "13900139000", 7 * 24 * time.Hour, "", false},
		{"unknown caller", "13700137000", 7 * 24 * time.Hour, "", false},
		{"withheld number", "", 7 * 24 * time.Hour, "", false},
		{"memory off", "13800138000", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.LastAgent(ctx(t), tt.caller, tt.within)
			if err != nil || got != tt.want || ok != tt.ok {
				t.Fatalf("LastAgent(%q, %v) = %q, %v, %v; want %q, %v", tt.caller, tt.within, got, ok, err, tt.want, tt.ok)
			}
		})
	}
	if err := s.RememberAgent(ctx(t), "13800138000", "", "trace", now); !errors.Is(err, acd.ErrInvalid) {
		t.Errorf("RememberAgent without agent: %v", err)
	}
}

func testStateLog(t *testing.T, s *pgstore.Store) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	changes := []pgstore.StateChange{
		{Agent: "1001", From: acd.LoggedOut, To: acd.Available, At: t0},
		{Agent: "1001", From: acd.Available, To: acd.Reserved, CallID: "c1", At: t0.Add(time.Minute)},
		{Agent: "1002", From: acd.LoggedOut, To: acd.Available, At: t0.Add(time.Minute)},
		{Agent: "1001", From: acd.Reserved, To: acd.OnCall, CallID: "c1", At: t0.Add(time.Minute + 5*time.Second)},
		{Agent: "1001", From: acd.OnCall, To: acd.WrapUp, CallID: "c1", At: t0.Add(4 * time.Minute)},
		{Agent: "1001", From: acd.WrapUp, To: acd.Paused, Reason: "lunch", At: t0.Add(4*time.Minute + 10*time.Second)},
	}
	for _, c := range changes {
		if err := s.LogState(ctx(t), c); err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.StateLog(ctx(t), "1001", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 5 {
		t.Fatalf("StateLog(1001) has %d entries, want 5: %+v", len(log), log)
	}
	last := log[0]
	if last.To != acd.Paused || last.Reason != "lunch" || !last.At.Equal(changes[5].At) || log[4].From != acd.LoggedOut {
		t.Fatalf("StateLog not newest first or lost fields: %+v", log)
	}
	if log[2].CallID != "c1" {
		t.Errorf("call id lost: %+v", log[2])
	}
	if log, err := s.StateLog(ctx(t), "1001", 2); err != nil || len(log) != 2 || log[1].To != acd.WrapUp {
		t.Fatalf("StateLog limit 2: %+v, %v", log, err)
	}

	for _, tt := range []struct {
		name string
		c    pgstore.StateChange
	}{
		{"no agent", pgstore.StateChange{From: acd.Available, To: acd.Paused}},
		{"unknown from", pgstore.StateChange{Agent: "1001", From: "busy", To: acd.Paused}},
		{"unknown to", pgstore.StateChange{Agent: "1001", From: acd.Available, To: ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.LogState(ctx(t), tt.c); !errors.Is(err, acd.ErrInvalid) {
				t.Fatalf("LogState: %v, want ErrInvalid", err)
			}
		})
	}

	// At zero is now.
	before := time.Now().Add(-time.Second)
	if err := s.LogState(ctx(t), pgstore.StateChange{Agent: "1003", From: acd.LoggedOut, To: acd.Paused, Reason: "training"}); err != nil {
		t.Fatal(err)
	}
	if log, err := s.StateLog(ctx(t), "1003", 1); err != nil || len(log) != 1 || log[0].At.Before(before) {
		t.Fatalf("StateLog(1003): %+v, %v", log, err)
	}
}
