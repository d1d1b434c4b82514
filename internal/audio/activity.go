package audio

import (
	"fmt"
	"time"
)

// Activity tunes the detection of active audio. The zero value selects every
// default.
type Activity struct {
	// Window is the analysis window (default DefaultWindow, 20 ms).
	Window time.Duration
	// AboveFloor is how far above the estimated noise floor a window must
	// be to count as active, in dB (default 15).
	AboveFloor float64
	// MinLevel is the absolute level in dBFS below which a window is never
	// active, whatever the floor (default -55): it keeps codec idle noise
	// after digital silence from counting.
	MinLevel float64
	// MaxFloor caps the noise floor estimate in dBFS (default -40), so a
	// recording that is active throughout, with no quiet stretch to learn
	// the floor from, is still found active.
	MaxFloor float64
	// MaxGap merges two active segments separated by less than this, such
	// as words of one sentence (default 200 ms). Negative disables merging.
	MaxGap time.Duration
	// MinActive drops segments shorter than this after merging, such as
	// clicks (default 60 ms). Negative keeps everything.
	MinActive time.Duration
}

func (a Activity) withDefaults() Activity {
	if a.Window <= 0 {
		a.Window = DefaultWindow
	}
	if a.AboveFloor == 0 {
		a.AboveFloor = 15
	}
	if a.MinLevel == 0 {
		a.MinLevel = -55
	}
	if a.MaxFloor == 0 {
		a.MaxFloor = -40
	}
	if a.MaxGap == 0 {
		a.MaxGap = 200 * time.Millisecond
	}
	if a.MinActive == 0 {
		a.MinActive = 60 * time.Millisecond
	}
	return a
}

// Segment is a stretch of a signal, as offsets from its first sample.
type Segment struct {
	Start, End time.Duration
}

// Duration is End-Start.
func (s Segment) Duration() time.Duration { return s.End - s.Start }

func (s Segment) String() string { return fmt.Sprintf("[%v, %v)", s.Start, s.End) }

// Threshold is the level in dBFS above which a window of p counts as active
// under a: max(MinLevel, min(noise floor, MaxFloor) + AboveFloor).
func (a Activity) Threshold(p PCM) float64 {
	a = a.withDefaults()
	return a.threshold(Levels(p, a.Window))
}

func (a Activity) threshold(levels []float64) float64 {
	return max(a.MinLevel, min(NoiseFloor(levels), a.MaxFloor)+a.AboveFloor)
}

// Segments finds the active stretches of p in order: windows whose level is
// at or above the Threshold, merged across gaps shorter than MaxGap, keeping
// those at least MinActive long. Boundaries fall on window edges (the last
// one may be the end of p).
func (a Activity) Segments(p PCM) []Segment {
	a = a.withDefaults()
	n := windowSamples(p.Rate, a.Window)
	levels := Levels(p, a.Window)
	if len(levels) == 0 {
		return nil
	}
	th := a.threshold(levels)

	var raw []Segment
	open := -1
	for i, l := range levels {
		switch {
		case l >= th && open < 0:
			open = i
		case l < th && open >= 0:
			raw = append(raw, Segment{at(open*n, p.Rate), at(i*n, p.Rate)})
			open = -1
		}
	}
	if open >= 0 {
		raw = append(raw, Segment{at(open*n, p.Rate), at(len(p.Samples), p.Rate)})
	}

	var merged []Segment
	for _, s := range raw {
		if k := len(merged) - 1; k >= 0 && a.MaxGap > 0 && s.Start-merged[k].End < a.MaxGap {
			merged[k].End = s.End
			continue
		}
		merged = append(merged, s)
	}

	out := merged[:0]
	for _, s := range merged {
		if s.Duration() >= a.MinActive {
			out = append(out, s)
		}
	}
	return out
}

// Duration is the total length of the active segments of p.
func (a Activity) Duration(p PCM) time.Duration {
	var d time.Duration
	for _, s := range a.Segments(p) {
		d += s.Duration()
	}
	return d
}

// ActiveSegments is Activity{}.Segments(p): active segments with defaults.
func ActiveSegments(p PCM) []Segment { return Activity{}.Segments(p) }

// ActiveDuration is Activity{}.Duration(p): total active audio with defaults.
func ActiveDuration(p PCM) time.Duration { return Activity{}.Duration(p) }
