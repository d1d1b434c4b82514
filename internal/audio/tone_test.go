package audio

import (
	"math"
	"testing"
	"time"
)

func TestToneIn(t *testing.T) {
	const rate = Rate
	tone := Tone(700, 2*time.Second, -12, rate)
	bursts := Concat(Tone(1200, 400*time.Millisecond, -12, rate), Silence(600*time.Millisecond, rate),
		Tone(1200, 400*time.Millisecond, -12, rate), Silence(600*time.Millisecond, rate))
	tests := []struct {
		name           string
		p              PCM
		hz             float64
		minShare       float64
		maxShare       float64
		minToned       int
		maxToned       int
		toneDBFSAround float64 // 0: not checked
	}{
		{"the tone itself", tone, 700, 0.98, 1, 40, 40, -15},
		{"another tone", tone, 1200, 0, 0.01, 0, 0, 0},
		{"a neighbouring tone", Tone(760, time.Second, -12, rate), 700, 0, 0.05, 0, 0, 0},
		{"bursts: the silence does not count", bursts, 1200, 0.98, 1, 16, 16, 0},
		{"white noise", Noise(time.Second, -20, 1, rate), 700, 0, 0.02, 0, 0, 0},
		{"tone under noise", Mix(Tone(1200, time.Second, -12, rate), Noise(time.Second, -30, 2, rate)), 1200, 0.9, 1, 20, 20, -15},
		{"two tones", Mix(Tone(700, time.Second, -15, rate), Tone(1600, time.Second, -15, rate)), 700, 0.45, 0.55, 0, 20, 0},
		{"48 kHz", Tone(1200, time.Second, -12, 48000), 1200, 0.98, 1, 20, 20, -15},
		{"silence", Silence(time.Second, rate), 700, 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ToneIn(tt.p, tt.hz)
			if m.Share < tt.minShare || m.Share > tt.maxShare {
				t.Errorf("%v: share outside [%.2f, %.2f]", m, tt.minShare, tt.maxShare)
			}
			if m.Toned < tt.minToned || m.Toned > tt.maxToned {
				t.Errorf("%v: toned windows outside [%d, %d]", m, tt.minToned, tt.maxToned)
			}
			if tt.toneDBFSAround != 0 && math.Abs(m.ToneDBFS-tt.toneDBFSAround) > 1 {
				t.Errorf("%v: tone level not about %.0f dBFS", m, tt.toneDBFSAround)
			}
		})
	}
}

func TestToneInEdges(t *testing.T) {
	if m := ToneIn(Tone(700, 10*time.Millisecond, -12, Rate), 700); m.Windows != 0 || m.Share != 0 {
		t.Errorf("shorter than half a window: %v", m)
	}
	if m := ToneIn(Tone(700, time.Second, -12, Rate), 4000); m.Windows != 0 {
		t.Errorf("at the Nyquist frequency: %v", m)
	}
	if m := ToneIn(PCM{}, 700); m.Windows != 0 || m.LevelDBFS != FloorDBFS {
		t.Errorf("empty: %v", m)
	}
}
