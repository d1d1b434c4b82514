package audio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// naiveXCorr is the definition of XCorr, in O(n·m).
func naiveXCorr(x, y []float64, minOverlap int) (float64, int) {
	best, bestLag := math.Inf(-1), 0
	for k := -(len(y) - 1); k <= len(x)-1; k++ {
		var xy, xx, yy float64
		cnt := 0
		for i := range y {
			if j := i + k; j >= 0 && j < len(x) {
				xy += x[j] * y[i]
				xx += x[j] * x[j]
				yy += y[i] * y[i]
				cnt++
			}
		}
		if cnt < max(1, minOverlap) {
			continue
		}
		s := 0.0
		if xx > 0 && yy > 0 {
			s = xy / math.Sqrt(xx*yy)
		}
		if s > best {
			best, bestLag = s, k
		}
	}
	if math.IsInf(best, -1) {
		return 0, 0
	}
	return best, bestLag
}

func TestXCorrMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][2]int{{1, 1}, {5, 3}, {3, 5}, {17, 17}, {64, 9}, {100, 37}} {
		x := make([]float64, size[0])
		y := make([]float64, size[1])
		for i := range x {
			x[i] = r.NormFloat64()
		}
		for i := range y {
			y[i] = r.NormFloat64()
		}
		for _, minOverlap := range []int{1, 3} {
			gs, gl := XCorr(x, y, minOverlap)
			ws, wl := naiveXCorr(x, y, minOverlap)
			if math.Abs(gs-ws) > 1e-9 || gl != wl {
				t.Errorf("size %v minOverlap %d: XCorr = (%.6f, %d), definition (%.6f, %d)", size, minOverlap, gs, gl, ws, wl)
			}
		}
	}
}

func TestCrossCorrelate(t *testing.T) {
	ref := Concat(Tone(440, 200*ms, -6, Rate), Tone(660, 200*ms, -6, Rate), Noise(200*ms, -12, 4, Rate))
	sil := func(d time.Duration) PCM { return Silence(d, Rate) }

	tests := []struct {
		name       string
		heard      PCM
		minOverlap time.Duration
		wantOffset time.Duration
		minScore   float64
		maxScore   float64
	}{
		{"identical", ref, 0, 0, 0.999, 1},
		{"delayed in silence", Concat(sil(750*ms), ref, sil(300*ms)), 0, 750 * ms, 0.999, 1},
		{"attenuated and noisy", Concat(sil(500*ms), Mix(scale(ref, 0.3), Noise(ref.Duration(), -40, 5, Rate)), sil(500*ms)), 0, 500 * ms, 0.95, 1},
		{"cut short by a hangup", Concat(sil(250*ms), PCM{Rate: Rate, Samples: ref.Samples[:2400]}), 200 * ms, 250 * ms, 0.999, 1},
		{"unrelated audio", Concat(sil(200*ms), Noise(time.Second, -10, 99, Rate)), 0, -1, -1, 0.2},
		{"silence", sil(2 * time.Second), 0, -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := CrossCorrelate(tt.heard, ref, tt.minOverlap)
			if err != nil {
				t.Fatal(err)
			}
			if m.Score < tt.minScore || m.Score > tt.maxScore {
				t.Fatalf("score %.4f, want in [%.3f, %.3f]", m.Score, tt.minScore, tt.maxScore)
			}
			if tt.wantOffset >= 0 && m.Offset != tt.wantOffset {
				t.Fatalf("offset %v (lag %d), want %v", m.Offset, m.Lag, tt.wantOffset)
			}
		})
	}
}

func TestCrossCorrelateRateMismatch(t *testing.T) {
	_, err := CrossCorrelate(Silence(time.Second, 8000), Silence(time.Second, 16000), 0)
	if !errors.Is(err, ErrRateMismatch) {
		t.Fatalf("err = %v, want ErrRateMismatch", err)
	}
}

func scale(p PCM, g float64) PCM {
	out := PCM{Rate: p.Rate, Samples: make([]int16, len(p.Samples))}
	for i, v := range p.Samples {
		out.Samples[i] = int16(float64(v) * g)
	}
	return out
}

func BenchmarkCrossCorrelate10s3s(b *testing.B) {
	heard := Noise(10*time.Second, -20, 1, Rate)
	ref := PCM{Rate: Rate, Samples: heard.Samples[40000:64000]}
	for b.Loop() {
		if _, err := CrossCorrelate(heard, ref, 0); err != nil {
			b.Fatal(err)
		}
	}
}
