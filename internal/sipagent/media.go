package sipagent

import (
	"bytes"
	"time"

	"github.com/emiago/diago/media"
	"github.com/zaf/g711"

	"github.com/ccd-platform/ccd/internal/audio"
)

// gapFill is how far behind the wall clock the recording may fall, at the
// end of the call, before the missing time is filled with silence.
const gapFill = 100 * time.Millisecond

// Bounds on how far a packet's RTP timestamp may place it from its arrival
// time before the stream is taken as restarted and anchored again.
const (
	maxLate  = 2 * time.Second
	maxEarly = time.Second
)

// timeline places received frames by their RTP timestamps: the first
// packet of a stream (an SSRC) is placed at its arrival time since the
// answer, each later one at that place plus its timestamp difference. Late
// or bunched packets (this process or Asterisk briefly descheduled) then
// land where they belong instead of shifting what follows, and a pause in
// the far end's stream stays a pause.
type timeline struct {
	anchored bool
	ssrc     uint32
	ts0      uint32
	pos0     int
}

// place returns the sample position of a frame of n samples with RTP
// header (ssrc, ts) arriving wallPos samples after the answer.
func (t *timeline) place(ssrc, ts uint32, wallPos int) int {
	if t.anchored && ssrc == t.ssrc {
		pos := t.pos0 + int(int32(ts-t.ts0))
		late := int(maxLate * audio.Rate / time.Second)
		early := int(maxEarly * audio.Rate / time.Second)
		if pos >= 0 && pos >= wallPos-late && pos <= wallPos+early {
			return pos
		}
	}
	t.anchored, t.ssrc, t.ts0, t.pos0 = true, ssrc, ts, max(0, wallPos)
	return t.pos0
}

// record decodes the far end's audio into c.heard and its RFC 4733 events
// into c.digits until media closes.
func (c *Call) record(codec media.Codec, dtmfPT uint8) {
	r := c.d.RTPPacketReader
	decode := g711.DecodeUlawFrame
	if codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		decode = g711.DecodeAlawFrame
	}
	buf := make([]byte, media.RTPBufSize)
	frame := make([]int16, 0, media.RTPBufSize)
	var lastEvent uint32 // RTP timestamp of the last key: one per event
	seenEvent := false
	var tl timeline
	for {
		n, err := r.Read(buf)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		switch r.PacketHeader.PayloadType {
		case codec.PayloadType:
			frame = frame[:0]
			for _, b := range buf[:n] {
				frame = append(frame, decode(b))
			}
			h := r.PacketHeader
			wall := int(time.Since(c.AnsweredAt())*audio.Rate/time.Second) - len(frame)
			c.putHeard(tl.place(h.SSRC, h.Timestamp, wall), frame)
		case dtmfPT:
			// Every packet of one event, end packets included, carries
			// the event's start timestamp.
			var ev media.DTMFEvent
			if media.DTMFDecode(buf[:n], &ev) != nil || ev.Event > 15 {
				continue
			}
			ts := r.PacketHeader.Timestamp
			if seenEvent && ts == lastEvent {
				continue
			}
			seenEvent, lastEvent = true, ts
			key := media.DTMFToRune(ev.Event)
			c.heardMu.Lock()
			c.digits = append(c.digits, key)
			c.heardMu.Unlock()
			c.a.emit(c, Event{Type: EventDigit, Digit: key})
		}
	}
}

// putHeard writes frame at sample position pos of what was heard,
// filling any gap before it with silence.
func (c *Call) putHeard(pos int, frame []int16) {
	c.heardMu.Lock()
	defer c.heardMu.Unlock()
	if end := pos + len(frame); end > len(c.heard) {
		c.heard = append(c.heard, make([]int16, end-len(c.heard))...)
	}
	copy(c.heard[pos:], frame)
}

// padHeard extends what was heard with silence up to end, when the far end
// stopped sending before the call ended, so Heard covers the whole call.
func (c *Call) padHeard(end time.Time) {
	want := int(end.Sub(c.AnsweredAt()) * audio.Rate / time.Second)
	c.heardMu.Lock()
	defer c.heardMu.Unlock()
	if gap := want - len(c.heard); gap > int(gapFill*audio.Rate/time.Second) {
		c.heard = append(c.heard, make([]int16, gap)...)
	}
}

// play sends Options.Play, looped or once then silence, until told to stop
// or media closes. The packet writer paces it at one packet per 20 ms.
func (c *Call) play(codec media.Codec) {
	encode, silence := g711.EncodeUlawFrame, byte(0xFF) // µ-law zero
	if codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		encode, silence = g711.EncodeAlawFrame, 0xD5 // A-law zero
	}
	size := int(codec.SampleTimestamp())
	src := c.a.cfg.Play.Samples
	// Whole packets: the tail of the last one is silence.
	enc := make([]byte, 0, (len(src)+size-1)/size*size)
	for _, v := range src {
		enc = append(enc, encode(v))
	}
	for len(enc)%size != 0 {
		enc = append(enc, silence)
	}
	quiet := bytes.Repeat([]byte{silence}, size)

	w := c.d.RTPPacketWriter
	for pos := 0; ; {
		select {
		case <-c.stopPlay:
			return
		default:
		}
		payload := quiet
		if pos < len(enc) {
			payload = enc[pos : pos+size]
			pos += size
			if pos == len(enc) && !c.a.cfg.PlayOnce {
				pos = 0
			}
		}
		if _, err := w.Write(payload); err != nil {
			return
		}
	}
}
