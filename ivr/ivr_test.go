package ivr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCollect(t *testing.T) {
	spec := DigitSpec{Max: 4, Terminator: '#', FirstTimeout: 200 * time.Millisecond, InterTimeout: 100 * time.Millisecond}
	tests := []struct {
		name     string
		buffered string        // keys already pressed (e.g. during a prompt)
		later    string        // keys pressed while collecting
		gap      time.Duration // between later keys
		want     Digits
		left     int // keys still buffered afterwards
	}{
		{name: "terminator", buffered: "12#", want: Digits{"12", EndTerminator}},
		{name: "max digits leaves the rest", buffered: "123456", want: Digits{"1234", EndMax}, left: 2},
		{name: "terminator after a full collection is swallowed", buffered: "1234", later: "#", gap: 50 * time.Millisecond, want: Digits{"1234", EndMax}},
		{name: "other key after a full collection stays", buffered: "12345", want: Digits{"1234", EndMax}, left: 1},
		{name: "keys during prompt then live", buffered: "1", later: "23#", gap: 10 * time.Millisecond, want: Digits{"123", EndTerminator}},
		{name: "no input", want: Digits{"", EndNoInput}},
		{name: "inter-digit timeout", later: "7", want: Digits{"7", EndTimeout}},
		{name: "terminator only", buffered: "#", want: Digits{"", EndTerminator}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeys()
			for _, r := range tc.buffered {
				k.Push(r)
			}
			go func() {
				for _, r := range tc.later {
					time.Sleep(tc.gap)
					k.Push(r)
				}
			}()
			got, err := k.Collect(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if k.Len() != tc.left {
				t.Errorf("left %d keys, want %d", k.Len(), tc.left)
			}
		})
	}
}

func TestCollectHangup(t *testing.T) {
	k := NewKeys()
	k.Push('5')
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrHangup)
	d, err := k.Collect(ctx, DigitSpec{FirstTimeout: time.Second, InterTimeout: time.Second})
	if !errors.Is(err, ErrHangup) || d.Keys != "5" {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// scripted is a Channel for unit tests of the flow logic.
type scripted struct {
	keys    *Keys
	log     []string
	onPlay  func(p Prompt)
	failAt  string
	hangup  context.CancelCauseFunc
	hungAt  string
	answerd bool
}

func (s *scripted) step(name string) error {
	s.log = append(s.log, name)
	if s.hungAt == name {
		s.hangup(ErrHangup)
		return ErrHangup
	}
	if s.failAt == name {
		return errors.New("boom")
	}
	return nil
}
func (s *scripted) Answer(context.Context) error { return s.step("answer") }
func (s *scripted) Play(_ context.Context, p Prompt) (PlayResult, error) {
	if s.onPlay != nil {
		s.onPlay(p)
	}
	return PlayResult{}, s.step("play:" + strings.Join(p.Media, "+"))
}
func (s *scripted) CollectDigits(ctx context.Context, spec DigitSpec) (Digits, error) {
	if err := s.step("collect"); err != nil {
		return Digits{}, err
	}
	return s.keys.Collect(ctx, spec)
}
func (s *scripted) Hangup(context.Context, string) error { return s.step("hangup") }
func (s *scripted) Var(string) string                    { return "" }

func TestHotline(t *testing.T) {
	h := Hotline{
		Greeting: []string{"sound:hello"},
		Goodbye:  []string{"sound:bye"},
		Digits:   DigitSpec{Max: 8, Terminator: '#', FirstTimeout: 50 * time.Millisecond, InterTimeout: 50 * time.Millisecond},
	}
	tests := []struct {
		name        string
		keys        string
		failAt      string
		hungAt      string
		wantOutcome Outcome
		wantDigits  string
		wantErr     bool
		wantSteps   string
	}{
		{name: "digits", keys: "4711#", wantOutcome: OutcomeCompleted, wantDigits: "4711",
			wantSteps: "answer,play:sound:hello,collect,play:sound:bye,hangup"},
		{name: "no input", wantOutcome: OutcomeNoInput, wantSteps: "answer,play:sound:hello,collect,play:sound:bye,hangup"},
		{name: "caller hangs up in greeting", hungAt: "play:sound:hello", wantOutcome: OutcomeAbandoned,
			wantSteps: "answer,play:sound:hello"},
		{name: "answer fails", failAt: "answer", wantOutcome: OutcomeFailed, wantErr: true, wantSteps: "answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ch := &scripted{keys: NewKeys(), failAt: tc.failAt, hungAt: tc.hungAt, hangup: cancel}
			for _, r := range tc.keys {
				ch.keys.Push(r)
			}
			res, err := h.Run(ctx, ch, nil, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if res.Outcome != tc.wantOutcome || res.Digits != tc.wantDigits {
				t.Errorf("got %+v", res)
			}
			if got := strings.Join(ch.log, ","); got != tc.wantSteps {
				t.Errorf("steps %s, want %s", got, tc.wantSteps)
			}
		})
	}
}

func FuzzCollect(f *testing.F) {
	f.Add("123#45", 4)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, keys string, max int) {
		if max < 0 || max > 64 {
			return
		}
		k := NewKeys()
		n := 0
		for _, r := range keys {
			k.Push(r)
			n++
		}
		d, err := k.Collect(context.Background(), DigitSpec{Max: max, Terminator: '#', FirstTimeout: time.Millisecond, InterTimeout: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(d.Keys, '#') {
			t.Fatalf("terminator in result %q", d.Keys)
		}
		if max > 0 && len([]rune(d.Keys)) > max {
			t.Fatalf("%d keys > max %d", len(d.Keys), max)
		}
		if !strings.HasPrefix(keys, d.Keys) {
			t.Fatalf("result %q is not a prefix of %q", d.Keys, keys)
		}
	})
}
