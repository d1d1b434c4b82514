package tts

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// rmsDB is the RMS level of x in dB relative to full scale, over the middle
// half (away from the filter's edges).
func rmsDB(x []float64) float64 {
	x = x[len(x)/4 : 3*len(x)/4]
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return 10 * math.Log10(s/float64(len(x))/(32768*32768))
}

func TestResampleBandAndAliases(t *testing.T) {
	for _, tc := range []struct {
		in   int
		hz   float64
		pass bool
	}{
		{22050, 300, true},
		{22050, 1000, true},
		{22050, 3300, true},
		{22050, 4500, false}, // would fold to 3500 Hz
		{22050, 6000, false}, // would fold to 2000 Hz
		{22050, 10000, false},
		{16000, 1000, true},
		{16000, 5000, false},
		{11025, 2000, true},
		{44100, 1000, true},
		{44100, 7900, false},
		{48000, 3000, true},
		{48000, 12000, false},
		{24000, 5000, false},
		{8000, 1000, true},
		{6000, 1000, true}, // upsampling
		{12345, 1000, true},
		{12345, 4200, false},
	} {
		t.Run(fmt.Sprintf("%dHz_tone_%gHz", tc.in, tc.hz), func(t *testing.T) {
			src := audio.Tone(tc.hz, time.Second, -6, tc.in)
			y := resample(src.Samples, tc.in, audio.Rate)
			if want := (len(src.Samples)*audio.Rate + tc.in - 1) / tc.in; len(y) != want {
				t.Fatalf("%d samples out, want %d", len(y), want)
			}
			inDB := rmsDB(floats(src.Samples))
			outDB := rmsDB(y)
			if !tc.pass {
				if outDB > inDB-60 {
					t.Fatalf("tone above the band leaks through at %.1f dB (input %.1f dB)", outDB, inDB)
				}
				return
			}
			if math.Abs(outDB-inDB) > 0.2 {
				t.Errorf("level %.2f dB after resampling, %.2f before", outDB, inDB)
			}
			// The same tone generated at 8 kHz: same phase, same samples
			// (no delay), within a fraction of a percent.
			ideal := audio.Tone(tc.hz, time.Second, -6, audio.Rate)
			worst := 0.0
			for i := len(y) / 4; i < 3*len(y)/4; i++ {
				worst = max(worst, math.Abs(y[i]-float64(ideal.Samples[i])))
			}
			if amp := float64(peakOf(ideal)); worst > amp*0.003 {
				t.Errorf("resampled tone is %.0f off the ideal one at worst (amplitude %.0f)", worst, amp)
			}
		})
	}
}

func floats(s []int16) []float64 {
	f := make([]float64, len(s))
	for i, v := range s {
		f[i] = float64(v)
	}
	return f
}

func TestToTelephone(t *testing.T) {
	p, err := toTelephone(audio.Tone(440, 500*time.Millisecond, -20, 16000), -3)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != audio.Rate || peakOf(p) != wantPeak {
		t.Fatalf("rate %d peak %d, want %d and %d", p.Rate, peakOf(p), audio.Rate, wantPeak)
	}
	if _, err := toTelephone(audio.Silence(time.Second, 22050), -3); err != ErrNoSpeech {
		t.Fatalf("silence: %v, want ErrNoSpeech", err)
	}
}
