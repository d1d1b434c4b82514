package audio

import (
	"math"
	"slices"
	"time"
)

// DefaultWindow is the analysis window: one G.711 packet.
const DefaultWindow = 20 * time.Millisecond

// FloorDBFS is the level reported for digital silence, so that levels stay
// finite and can be averaged or compared.
const FloorDBFS = -120.0

// DBFS is the RMS level of samples in dB relative to full scale (a full-scale
// square wave is 0 dBFS, a full-scale sine about -3 dBFS), clamped below at
// FloorDBFS. An empty slice is at FloorDBFS.
func DBFS(samples []int16) float64 {
	if len(samples) == 0 {
		return FloorDBFS
	}
	var sum float64
	for _, v := range samples {
		f := float64(v)
		sum += f * f
	}
	rms := math.Sqrt(sum / float64(len(samples)))
	if rms == 0 {
		return FloorDBFS
	}
	return max(FloorDBFS, 20*math.Log10(rms/32768))
}

// Levels is the RMS level in dBFS of each consecutive window of p (a
// non-positive window means DefaultWindow). A last, shorter window is
// measured over the samples it has.
func Levels(p PCM, window time.Duration) []float64 {
	n := windowSamples(p.Rate, window)
	if n == 0 {
		return nil
	}
	out := make([]float64, 0, (len(p.Samples)+n-1)/n)
	for i := 0; i < len(p.Samples); i += n {
		out = append(out, DBFS(p.Samples[i:min(i+n, len(p.Samples))]))
	}
	return out
}

func windowSamples(rate int, window time.Duration) int {
	if rate <= 0 {
		return 0
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return max(1, samplesIn(window, rate))
}

// NoiseFloor estimates the background level of a recording as the 10th
// percentile of its window levels: the quietest stretches, ignoring a few
// outliers. It is FloorDBFS when levels is empty.
func NoiseFloor(levels []float64) float64 {
	if len(levels) == 0 {
		return FloorDBFS
	}
	s := slices.Clone(levels)
	slices.Sort(s)
	return s[len(s)/10]
}
