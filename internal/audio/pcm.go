// Package audio holds pure helpers for checking what a caller heard: 16-bit
// mono PCM in WAV files, energy per window in dBFS, detection of active
// segments (speech or tones well above the noise floor) and normalized
// cross-correlation for comparing a recording with a reference rendering.
//
// Nothing here does I/O beyond the io.Reader/io.Writer it is given, keeps
// state, or starts goroutines.
package audio

import (
	"math"
	"math/rand/v2"
	"time"
)

// Rate is the telephony sample rate (G.711), in samples per second.
const Rate = 8000

// PCM is a mono signal of signed 16-bit samples at Rate samples per second.
type PCM struct {
	Rate    int
	Samples []int16
}

// Duration is the length of the signal. It is zero when Rate is not positive.
func (p PCM) Duration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(len(p.Samples)) * time.Second / time.Duration(p.Rate)
}

// samplesIn converts a duration to a whole number of samples at rate,
// rounding to nearest.
func samplesIn(d time.Duration, rate int) int {
	return int((int64(d)*int64(rate) + int64(time.Second)/2) / int64(time.Second))
}

// at converts a sample index to a time offset at rate.
func at(i, rate int) time.Duration {
	return time.Duration(int64(i) * int64(time.Second) / int64(rate))
}

// amplitude converts a level in dBFS to a peak amplitude, where 0 dBFS is a
// full-scale square wave (peak 32767). A sine of peak A has an RMS 3 dB below.
func amplitude(dBFS float64) float64 {
	return math.Min(32767, 32768*math.Pow(10, dBFS/20))
}

// Silence is d of digital silence at rate.
func Silence(d time.Duration, rate int) PCM {
	return PCM{Rate: rate, Samples: make([]int16, samplesIn(d, rate))}
}

// Tone is a sine of frequency hz lasting d at rate, with peak level peakDBFS
// (0 is full scale). Its RMS level is about peakDBFS-3.
func Tone(hz float64, d time.Duration, peakDBFS float64, rate int) PCM {
	n := samplesIn(d, rate)
	a := amplitude(peakDBFS)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(a * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))))
	}
	return PCM{Rate: rate, Samples: s}
}

// Noise is uniform white noise lasting d at rate with RMS level rmsDBFS,
// generated deterministically from seed.
func Noise(d time.Duration, rmsDBFS float64, seed uint64, rate int) PCM {
	n := samplesIn(d, rate)
	// A uniform distribution on [-A, A] has RMS A/sqrt(3).
	a := math.Min(32767, amplitude(rmsDBFS)*math.Sqrt(3))
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round((2*r.Float64() - 1) * a))
	}
	return PCM{Rate: rate, Samples: s}
}

// Concat joins signals in order. The result takes the rate of the first
// signal; callers must not mix rates.
func Concat(parts ...PCM) PCM {
	out := PCM{}
	n := 0
	for _, p := range parts {
		n += len(p.Samples)
	}
	out.Samples = make([]int16, 0, n)
	for i, p := range parts {
		if i == 0 {
			out.Rate = p.Rate
		}
		out.Samples = append(out.Samples, p.Samples...)
	}
	return out
}

// Mix adds b onto a sample by sample (b starting at a's first sample),
// saturating at full scale. The result has a's length and rate.
func Mix(a, b PCM) PCM {
	out := PCM{Rate: a.Rate, Samples: make([]int16, len(a.Samples))}
	for i, v := range a.Samples {
		sum := int32(v)
		if i < len(b.Samples) {
			sum += int32(b.Samples[i])
		}
		out.Samples[i] = int16(max(math.MinInt16, min(math.MaxInt16, sum)))
	}
	return out
}
