package audio

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestDBFS(t *testing.T) {
	tests := []struct {
		name    string
		samples []int16
		want    float64
	}{
		{"empty", nil, FloorDBFS},
		{"silence", make([]int16, 160), FloorDBFS},
		{"full-scale square", []int16{-32768, -32768, -32768, -32768}, 0},
		{"full-scale sine", Tone(1000, 100*ms, 0, Rate).Samples, -3.01},
		{"-20 dBFS sine", Tone(1000, 100*ms, -20, Rate).Samples, -23.01},
		{"-30 dBFS noise", Noise(time.Second, -30, 7, Rate).Samples, -30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DBFS(tt.samples); math.Abs(got-tt.want) > 0.1 {
				t.Fatalf("DBFS = %.2f, want %.2f", got, tt.want)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	p := Concat(Silence(40*ms, Rate), Tone(440, 40*ms, -6, Rate), Silence(10*ms, Rate))
	got := Levels(p, 20*ms)
	if len(got) != 5 {
		t.Fatalf("%d windows, want 5 (last partial)", len(got))
	}
	for i, want := range []float64{FloorDBFS, FloorDBFS, -9, -9, FloorDBFS} {
		if math.Abs(got[i]-want) > 0.2 {
			t.Errorf("window %d: %.2f dBFS, want %.2f", i, got[i], want)
		}
	}
	if Levels(PCM{}, 20*ms) != nil {
		t.Error("levels of a rateless signal")
	}
}

func TestActivitySegments(t *testing.T) {
	sil := func(d time.Duration) PCM { return Silence(d, Rate) }
	tone := func(d time.Duration) PCM { return Tone(440, d, -10, Rate) }
	noisy := func(p PCM, seed uint64) PCM { return Mix(p, Noise(p.Duration(), -50, seed, Rate)) }

	tests := []struct {
		name string
		pcm  PCM
		a    Activity
		want []Segment
	}{
		{"empty", PCM{Rate: Rate}, Activity{}, nil},
		{"silence", sil(2 * time.Second), Activity{}, nil},
		{"noise only", Noise(2*time.Second, -50, 1, Rate), Activity{}, nil},
		{"tone throughout", tone(time.Second), Activity{}, []Segment{{0, time.Second}}},
		{"one burst", Concat(sil(500*ms), tone(time.Second), sil(500*ms)), Activity{},
			[]Segment{{500 * ms, 1500 * ms}}},
		{"burst in noise", noisy(Concat(sil(500*ms), tone(time.Second), sil(500*ms)), 2), Activity{},
			[]Segment{{500 * ms, 1500 * ms}}},
		{"short gap merged", Concat(tone(300*ms), sil(100*ms), tone(300*ms), sil(200*ms)), Activity{},
			[]Segment{{0, 700 * ms}}},
		{"long gap kept", Concat(tone(300*ms), sil(400*ms), tone(300*ms)), Activity{},
			[]Segment{{0, 300 * ms}, {700 * ms, time.Second}}},
		{"merging disabled", Concat(tone(300*ms), sil(100*ms), tone(300*ms)), Activity{MaxGap: -1},
			[]Segment{{0, 300 * ms}, {400 * ms, 700 * ms}}},
		{"click dropped", Concat(sil(500*ms), tone(20*ms), sil(500*ms), tone(200*ms)), Activity{},
			[]Segment{{1020 * ms, 1220 * ms}}},
		{"click kept when asked", Concat(sil(500*ms), tone(20*ms), sil(500*ms)), Activity{MinActive: -1},
			[]Segment{{500 * ms, 520 * ms}}},
		{"quiet tone below MinLevel", Concat(sil(time.Second), Tone(440, time.Second, -60, Rate)), Activity{}, nil},
		{"quiet tone with lower MinLevel", Concat(sil(time.Second), Tone(440, time.Second, -60, Rate)), Activity{MinLevel: -70},
			[]Segment{{time.Second, 2 * time.Second}}},
		{"loud noise floor raises threshold", Concat(Noise(time.Second, -35, 3, Rate), Tone(440, time.Second, -25, Rate)), Activity{MaxFloor: -10},
			nil},
		{"unaligned end", Concat(sil(100*ms), tone(105*ms)), Activity{},
			[]Segment{{100 * ms, 205 * ms}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Segments(tt.pcm)
			if len(got) != len(tt.want) {
				t.Fatalf("segments %v, want %v (threshold %.1f dBFS)", got, tt.want, tt.a.Threshold(tt.pcm))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("segments %v, want %v", got, tt.want)
				}
			}
			var total time.Duration
			for _, s := range tt.want {
				total += s.Duration()
			}
			if d := tt.a.Duration(tt.pcm); d != total {
				t.Fatalf("Duration = %v, want %v", d, total)
			}
		})
	}
}

func TestActiveDurationAfterG711LikeNoise(t *testing.T) {
	// One second of tone between stretches of very low idle noise, as a
	// decoded G.711 stream carries: the tone alone must count.
	idle := Noise(time.Second, -70, 9, Rate)
	p := Concat(idle, Tone(440, time.Second, -12, Rate), idle)
	if d := ActiveDuration(p); d < 980*ms || d > 1020*ms {
		t.Fatalf("ActiveDuration = %v, want about 1s", d)
	}
	if s := ActiveSegments(p); len(s) != 1 {
		t.Fatalf("ActiveSegments = %v, want one", s)
	}
}
