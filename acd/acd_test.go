package acd

import (
	"strings"
	"testing"
)

func TestCanTransition(t *testing.T) {
	tests := []struct {
		from, to State
		want     bool
	}{
		{LoggedOut, Available, true},
		{LoggedOut, OnCall, false},
		{Available, Reserved, true},
		{Reserved, Reserved, false},
		{Reserved, OnCall, true},
		{OnCall, LoggedOut, false},
		{OnCall, WrapUp, true},
		{WrapUp, Available, true},
		{Paused, OnCall, false},
		{Available, Available, false},
		{State("bogus"), Available, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			if got := CanTransition(tt.from, tt.to); got != tt.want {
				t.Fatalf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := ValidateCall(Call{ID: "c", Queue: "q", Skills: []Requirement{{"en", 6}}}); err == nil {
		t.Fatal("level 6 accepted")
	}
	if err := ValidateCall(Call{ID: "c", Queue: "q", Priority: MaxPriority + 1}); err == nil {
		t.Fatal("priority out of range accepted")
	}
	if err := ValidateLogin(Login{Agent: "a", Skills: map[Skill]int{"en": 3}}); err != nil {
		t.Fatal(err)
	}
}

func TestSamplesValidate(t *testing.T) {
	qs, err := SampleQueues()
	if err != nil || len(qs) == 0 {
		t.Fatalf("sample queues: %v (%d)", err, len(qs))
	}
	for _, q := range qs {
		q.Defaults()
		if err := q.Validate(); err != nil {
			t.Errorf("sample queue %s: %v", q.ID, err)
		}
	}
	as, err := SampleAgents()
	if err != nil || len(as) != 3 {
		t.Fatalf("sample agents: %v (%d)", err, len(as))
	}
	for _, a := range as {
		if err := a.Validate(); err != nil {
			t.Errorf("sample agent %s: %v", a.ID, err)
		}
	}
}

func TestQueueConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(q *QueueConfig)
		want string // in the error; "" for valid
	}{
		{"defaults", func(q *QueueConfig) {}, ""},
		{"bad id", func(q *QueueConfig) { q.ID = "Bad Id" }, "id"},
		{"bad strategy", func(q *QueueConfig) { q.Strategy = "random" }, "strategy"},
		{"skill level", func(q *QueueConfig) { q.Skills = []Requirement{{Skill: "trace", MinLevel: 9}} }, "skills[0]"},
		{"expansion order", func(q *QueueConfig) {
			q.Expansion = []ExpansionStep{{After: 30}, {After: 10}}
		}, "expansion[1]"},
		{"announce too often", func(q *QueueConfig) { q.AnnounceEvery = 3 }, "announce_every_s"},
		{"overflow to itself", func(q *QueueConfig) { q.Overflow = "queue:q1" }, "itself"},
		{"overflow target", func(q *QueueConfig) { q.Overflow = "voicemail" }, "overflow"},
		{"overflow to a flow", func(q *QueueConfig) { q.Overflow = "flow:night" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := QueueConfig{ID: "q1"}
			q.Defaults()
			tt.edit(&q)
			err := q.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid queue refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}
