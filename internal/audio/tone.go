package audio

import (
	"fmt"
	"math"
	"time"
)

// ToneWindow is the window ToneIn measures in: 50 ms, a whole number of
// periods of any tone on a 20 Hz grid, and short enough that a burst or a
// gap in the audio stays its own window.
const ToneWindow = 50 * time.Millisecond

// ToneMeasure is how much of a signal is one pure tone, as a Goertzel
// filter at the tone's frequency finds it.
type ToneMeasure struct {
	Hz float64
	// Share is the part of the signal's energy at Hz, in [0, 1]: about 1
	// for the pure tone alone, about 0 when the tone is absent. Windows
	// weigh by their energy, so silence between bursts of the tone does not
	// lower it while music or another tone does.
	Share float64
	// ToneDBFS is the level of the tone's component (RMS over the whole
	// signal, dBFS as DBFS measures it); LevelDBFS the level of everything.
	ToneDBFS, LevelDBFS float64
	// Windows is the number of ToneWindow windows measured, Toned how many
	// of them are mostly the tone (Share above one half, level above
	// -50 dBFS).
	Windows, Toned int
}

func (m ToneMeasure) String() string {
	return fmt.Sprintf("%.0f Hz: share %.2f, tone %.1f dBFS of %.1f dBFS, %d/%d windows toned",
		m.Hz, m.Share, m.ToneDBFS, m.LevelDBFS, m.Toned, m.Windows)
}

// ToneIn measures the hz component of p window by window (ToneWindow) with
// the Goertzel algorithm. A last window shorter than half a window is left
// out. It returns the zero measure (but Hz) when p is shorter than a window
// or hz is not below the Nyquist frequency.
func ToneIn(p PCM, hz float64) ToneMeasure {
	m := ToneMeasure{Hz: hz, ToneDBFS: FloorDBFS, LevelDBFS: FloorDBFS}
	n := windowSamples(p.Rate, ToneWindow)
	if n == 0 || hz <= 0 || hz >= float64(p.Rate)/2 {
		return m
	}
	var toneEnergy, totalEnergy float64
	var measured int
	for i := 0; i < len(p.Samples); i += n {
		w := p.Samples[i:min(i+n, len(p.Samples))]
		if len(w) < n/2 {
			break
		}
		tone := goertzelPower(w, p.Rate, hz) // mean square of the hz component
		var total float64
		for _, v := range w {
			f := float64(v) / 32768
			total += f * f
		}
		total /= float64(len(w))
		tone = min(tone, total) // the estimate can overshoot by the other half of the spectrum
		m.Windows++
		if total > 0 && tone/total > 0.5 && 10*math.Log10(total) > -50 {
			m.Toned++
		}
		toneEnergy += tone * float64(len(w))
		totalEnergy += total * float64(len(w))
		measured += len(w)
	}
	if totalEnergy > 0 {
		m.Share = toneEnergy / totalEnergy
		m.LevelDBFS = max(FloorDBFS, 10*math.Log10(totalEnergy/float64(measured)))
	}
	if toneEnergy > 0 {
		m.ToneDBFS = max(FloorDBFS, 10*math.Log10(toneEnergy/float64(measured)))
	}
	return m
}

// goertzelPower is the mean square (full scale 1) of the sinusoid at hz in
// w: the squared magnitude of the DTFT of w at hz, scaled so that a sine of
// amplitude A (mean square A²/2) gives A²/2.
func goertzelPower(w []int16, rate int, hz float64) float64 {
	omega := 2 * math.Pi * hz / float64(rate)
	coeff := 2 * math.Cos(omega)
	var s1, s2 float64
	for _, v := range w {
		s0 := float64(v)/32768 + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(omega)
	im := s2 * math.Sin(omega)
	n := float64(len(w))
	// |X|² = A²n²/4 for a sine of amplitude A; its mean square is A²/2.
	return 2 * (re*re + im*im) / (n * n)
}
