package redisstore

import (
	"context"
	"testing"

	"github.com/ccd-platform/ccd/acd"
)

// Live state of an older key layout is removed at Load; state of the
// current layout survives a restart.
func TestLoadRemovesOldLayout(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"trace": 2}})
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Agent(ctx, "a1"); err != nil {
		t.Fatalf("agent lost across a Load of the same layout: %v", err)
	}
	// An older version's keys (no layout marker, another shape).
	if err := rdb.Del(ctx, s.prefix+"layout").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, s.prefix+"agent:old", "state", "available").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "other:key", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, s.prefix+"agent:old", s.prefix+"agent:a1").Result(); n != 0 {
		t.Errorf("%d keys of the old layout left", n)
	}
	if v, _ := rdb.Get(ctx, "other:key").Result(); v != "kept" {
		t.Error("a key outside the ACD's prefix was removed")
	}
	if v, _ := rdb.Get(ctx, s.prefix+"layout").Result(); v != layoutVersion {
		t.Errorf("layout version %q, want %s", v, layoutVersion)
	}
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"trace": 2}})
}
