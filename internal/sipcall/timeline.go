package sipcall

import (
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Bounds on where a packet's RTP timestamp may place it, relative to its
// arrival time and to the audio already placed, before its stream is taken
// as restarted and anchored again.
const (
	// maxLate: a packet placed this long before it arrived was not merely
	// read late (this process descheduled, packets read in a burst).
	maxLate = 2 * time.Second
	// maxEarly: a packet cannot arrive before it was sent; one placed this
	// long after it arrived means the timestamps jumped ahead.
	maxEarly = time.Second
	// maxBack: a packet placed this long before audio already placed from
	// its stream is not a reordered one: the timestamps went back.
	maxBack = 100 * time.Millisecond
	// lateAnchor: a packet placed this long after it arrived, past a gap in
	// what was placed, shows that the stream was anchored late (its first
	// packet was read late) or that its clock jumped ahead.
	lateAnchor = 100 * time.Millisecond
)

// samples converts a duration to a number of samples at audio.Rate.
func samples(d time.Duration) int { return int(d * audio.Rate / time.Second) }

// timeline places received frames on the timeline that starts at the
// answer, by their RTP timestamps. The first packet of a stream (an SSRC) is
// placed at its arrival time, each later one at that place plus its
// timestamp difference. Packets read late or in bursts (this process, the
// far end or the network briefly descheduled) then land where they belong
// instead of opening gaps or shifting what follows, and a pause in the far
// end's stream, across which its timestamps advance (Asterisk's and diago's
// do), stays a pause of the right length.
//
// Arrival time anchors the stream again when its timestamps cannot be right:
// a new SSRC (a re-INVITE, Asterisk switching the media source), a packet
// placed more than maxLate before its arrival, more than maxEarly after it or
// more than maxBack before audio already placed, or one placed more than
// lateAnchor after its arrival beyond a gap in what was placed. A stream is
// never anchored before the end of what was already placed, so nothing heard
// is overwritten.
type timeline struct {
	anchored bool
	ssrc     uint32
	ts0      uint32 // timestamp of the anchor packet
	pos0     int    // its position
	end      int    // end of the furthest frame placed, of any stream
}

// place returns the sample position of a frame of n samples with RTP header
// (ssrc, ts) that arrived wall samples after the answer, counting back the
// frame's own length (the position it would have if it arrived on time).
func (t *timeline) place(ssrc, ts uint32, n, wall int) int {
	if t.anchored && ssrc == t.ssrc {
		pos := t.pos0 + int(int32(ts-t.ts0))
		ok := pos >= 0 &&
			pos >= wall-samples(maxLate) &&
			pos <= wall+samples(maxEarly) &&
			pos >= t.end-samples(maxBack) &&
			!(pos > wall+samples(lateAnchor) && pos > t.end+samples(lateAnchor))
		if ok {
			t.end = max(t.end, pos+n)
			return pos
		}
	}
	t.anchored, t.ssrc, t.ts0 = true, ssrc, ts
	t.pos0 = max(0, wall, t.end)
	t.end = t.pos0 + n
	return t.pos0
}
