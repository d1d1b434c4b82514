package sipcalltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/zaf/g711"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Stream is an RTP stream to the caller of its own (its own SSRC, sequence
// numbers and clock) sent on the call's media session beside diago's
// writer, as Asterisk sends a new stream when it switches the media source.
// Its packets may leave late, in order, with the timestamps they would have
// had on time: most up to a tenth of the jitter given to NewStream, one in
// eight up to all of it, the packets behind that one then leaving in a
// burst. That is what a caller sees when the far end or the network is under
// load, or when its own reading is delayed. A Stream is used from one
// goroutine.
type Stream struct {
	ctx    context.Context
	w      *media.RTPPacketWriter
	codec  media.Codec
	jitter time.Duration
	rng    *rand.Rand
	start  time.Time // when the stream's clock started
	clock  uint32    // samples of the stream's clock already used
}

// NewStream prepares a stream on d, answered, whose packets leave up to
// jitter late (zero: all on time), the delays drawn from seed.
func NewStream(d *diago.DialogServerSession, jitter time.Duration, seed uint64) (*Stream, error) {
	if d.RTPPacketWriter == nil {
		return nil, errors.New("sipcalltest: stream: call has no media")
	}
	codec := media.CodecAudioFromSession(d.MediaSession())
	w := media.NewRTPPacketWriter(d.RTPPacketWriter.Writer(), codec)
	w.ClockDisable() // paced here
	return &Stream{
		ctx:    d.Context(),
		w:      w,
		codec:  codec,
		jitter: jitter,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}, nil
}

// SSRC identifies the stream in its packets.
func (s *Stream) SSRC() uint32 { return s.w.SSRC }

// Play sends p (at audio.Rate) through the negotiated codec and returns once
// its last packet left, or the call ended. Its first packet carries the
// marker bit, and its timestamps continue the stream's clock, which runs
// between Plays: a pause between two Plays is a pause in the timestamps too,
// as on Asterisk's streams.
func (s *Stream) Play(p audio.PCM) error {
	if p.Rate != audio.Rate {
		return fmt.Errorf("sipcalltest: stream: rate %d, want %d", p.Rate, audio.Rate)
	}
	enc := encode(p, s.codec)
	size := int(s.codec.SampleTimestamp())

	start := time.Now()
	if s.start.IsZero() {
		s.start = start
	} else if now := uint32(start.Sub(s.start) * audio.Rate / time.Second); now > s.clock {
		s.w.DelayTimestamp(now - s.clock)
		s.clock = now
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; i*size < len(enc); i++ {
		delay := s.delay()
		if wait := time.Until(start.Add(time.Duration(i)*s.codec.SampleDur + delay)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		}
		if _, err := s.w.WriteSamples(enc[i*size:(i+1)*size], uint32(size), i == 0, s.codec.PayloadType); err != nil {
			return err
		}
		s.clock += uint32(size)
	}
	return nil
}

// delay draws how late a packet leaves (see Stream).
func (s *Stream) delay() time.Duration {
	if s.jitter <= 0 {
		return 0
	}
	limit := s.jitter / 10
	if s.rng.IntN(8) == 0 {
		limit = s.jitter
	}
	return time.Duration(s.rng.Int64N(int64(limit) + 1))
}

// encode turns p into G.711 in codec, in whole packets.
func encode(p audio.PCM, codec media.Codec) []byte {
	enc, silence := g711.EncodeUlawFrame, byte(0xFF)
	if codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		enc, silence = g711.EncodeAlawFrame, 0xD5
	}
	size := int(codec.SampleTimestamp())
	out := make([]byte, 0, (len(p.Samples)+size-1)/size*size)
	for _, v := range p.Samples {
		out = append(out, enc(v))
	}
	for len(out)%size != 0 {
		out = append(out, silence)
	}
	return out
}

// Recording is what the caller sent on a call, as the far end heard it.
// Start it with Record.
type Recording struct {
	start time.Time
	done  chan struct{}

	mu      sync.Mutex
	samples []int16
	digits  []rune
}

// Record reads what the caller sends, in the background, until the call
// ends: audio decoded to 8 kHz PCM, whose sample 0 is the call to Record
// (make it right after Answer), each packet placed by its RTP timestamp from
// the first packet of its stream, itself placed at its arrival; and DTMF
// keys sent as RFC 4733 events. It takes the call's RTP reader: do not read
// digits or audio otherwise meanwhile.
func Record(d *diago.DialogServerSession) *Recording {
	r := &Recording{start: time.Now(), done: make(chan struct{})}
	dtmf := media.CodecTelephoneEvent8000.PayloadType
	for _, k := range d.MediaSession().CommonCodecs() {
		if k.Name == media.CodecTelephoneEvent8000.Name {
			dtmf = k.PayloadType
		}
	}
	go r.read(d.RTPPacketReader, dtmf)
	return r
}

func (r *Recording) read(pr *media.RTPPacketReader, dtmf uint8) {
	defer close(r.done)
	buf := make([]byte, media.RTPBufSize)
	var (
		anchored  bool
		ssrc, ts0 uint32
		pos0      int
		lastEvent uint32 // start timestamp of the last key: one per event
		seenEvent bool
	)
	for {
		n, err := pr.Read(buf)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		h := pr.PacketHeader
		var decode func(uint8) int16
		switch h.PayloadType {
		case media.CodecAudioUlaw.PayloadType:
			decode = g711.DecodeUlawFrame
		case media.CodecAudioAlaw.PayloadType:
			decode = g711.DecodeAlawFrame
		case dtmf:
			var ev media.DTMFEvent
			if media.DTMFDecode(buf[:n], &ev) != nil || ev.Event > 15 {
				continue
			}
			if seenEvent && h.Timestamp == lastEvent {
				continue
			}
			seenEvent, lastEvent = true, h.Timestamp
			r.mu.Lock()
			r.digits = append(r.digits, media.DTMFToRune(ev.Event))
			r.mu.Unlock()
			continue
		default:
			continue
		}
		wall := int(time.Since(r.start)*audio.Rate/time.Second) - n
		pos := pos0 + int(int32(h.Timestamp-ts0))
		// A new stream, or timestamps that jumped, start at arrival.
		if !anchored || h.SSRC != ssrc || pos < 0 || pos > wall+audio.Rate {
			anchored, ssrc, ts0, pos0 = true, h.SSRC, h.Timestamp, max(0, wall)
			pos = pos0
		}
		r.mu.Lock()
		if end := pos + n; end > len(r.samples) {
			r.samples = append(r.samples, make([]int16, end-len(r.samples))...)
		}
		for i, b := range buf[:n] {
			r.samples[pos+i] = decode(b)
		}
		r.mu.Unlock()
	}
}

// Done is closed once the call's media closed and reading stopped.
func (r *Recording) Done() <-chan struct{} { return r.done }

// Audio is a copy of what was heard so far.
func (r *Recording) Audio() audio.PCM {
	r.mu.Lock()
	defer r.mu.Unlock()
	return audio.PCM{Rate: audio.Rate, Samples: append([]int16(nil), r.samples...)}
}

// Digits are the DTMF keys received so far, in order.
func (r *Recording) Digits() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.digits)
}
