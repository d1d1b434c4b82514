package dispatch

import (
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		cause string
		want  acd.Outcome
	}{
		{"17 User busy", acd.Rejected},
		{"21 Call Rejected", acd.Rejected},
		{"20 Subscriber absent", acd.NoAnswer},
		{"27 Destination out of order", acd.NoAnswer},
		{"19 No answer", acd.NoAnswer},
		{"18 No user responding", acd.NoAnswer},
		{"16 Normal Clearing", acd.NoAnswer},
		{"", acd.NoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.cause, func(t *testing.T) {
			if got := outcomeOf(tt.cause); got != tt.want {
				t.Errorf("outcomeOf(%q) = %s, want %s", tt.cause, got, tt.want)
			}
		})
	}
}

func TestExpectedMinutes(t *testing.T) {
	tests := []struct {
		name string
		pos  int
		st   acd.QueueStats
		want int
	}{
		{"no history: three minutes a call", 2, acd.QueueStats{Staffed: 1}, 6},
		{"shared among agents", 4, acd.QueueStats{Staffed: 4, AvgHandle: 2 * time.Minute}, 2},
		{"nobody staffed counts as one", 1, acd.QueueStats{AvgHandle: 90 * time.Second}, 2},
		{"never less than a minute", 1, acd.QueueStats{Staffed: 10, AvgHandle: 30 * time.Second}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expectedMinutes(tt.pos, tt.st); got != tt.want {
				t.Errorf("expectedMinutes(%d, %+v) = %d, want %d", tt.pos, tt.st, got, tt.want)
			}
		})
	}
}

func TestLegCall(t *testing.T) {
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	if got := legCall("leg-" + id + "-3"); got != id {
		t.Errorf("legCall = %q, want %q", got, id)
	}
}

func TestAnnouncementTexts(t *testing.T) {
	en := PositionText("en", 3, 1, true, true)
	for _, w := range []string{"number 3", "about 1 minute.", "press 1", "press 2"} {
		if !strings.Contains(en, w) {
			t.Errorf("%q lacks %q", en, w)
		}
	}
	if s := PositionText("en", 2, 6, false, false); strings.Contains(s, "press") || !strings.Contains(s, "6 minutes") {
		t.Errorf("no options offered: %q", s)
	}
	if zh := PositionText("zh", 2, 4, true, false); !strings.Contains(zh, "第2位") || !strings.Contains(zh, "按1") {
		t.Errorf("zh: %q", zh)
	}
	if cb := CallbackText("en", "1390"); !strings.Contains(cb, "1 3 9 0") {
		t.Errorf("callback number not read digit by digit: %q", cb)
	}
}
