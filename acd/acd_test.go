package acd

import "testing"

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
