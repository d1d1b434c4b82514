package sipcall

import (
	"errors"
	"fmt"
	"time"

	"github.com/emiago/diago/media"
	"github.com/zaf/g711"

	"github.com/ccd-platform/ccd/internal/audio"
)

// gapFill is how far behind the wall clock what was heard may end, when the
// call ends, before the missing time is filled with silence.
const gapFill = 100 * time.Millisecond

// G.711 silence, one byte a sample.
const (
	ulawSilence = 0xFF
	alawSilence = 0xD5
)

// record decodes the far end's audio into s.heard until media closes, each
// frame placed on the timeline by its RTP timestamp. PCMU and PCMA are both
// decoded, whichever was negotiated, so a re-INVITE that changes the codec
// changes nothing here; telephone-events and other payload types are
// skipped.
func (s *Session) record() {
	r := s.d.RTPPacketReader
	buf := make([]byte, media.RTPBufSize)
	frame := make([]int16, 0, media.RTPBufSize)
	var tl timeline
	for {
		n, err := r.Read(buf)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		h := r.PacketHeader
		var decode func(uint8) int16
		switch h.PayloadType {
		case media.CodecAudioUlaw.PayloadType:
			decode = g711.DecodeUlawFrame
		case media.CodecAudioAlaw.PayloadType:
			decode = g711.DecodeAlawFrame
		default:
			continue
		}
		frame = frame[:0]
		for _, b := range buf[:n] {
			frame = append(frame, decode(b))
		}
		wall := samples(time.Since(s.answeredAt)) - len(frame)
		s.putHeard(tl.place(h.SSRC, h.Timestamp, len(frame), wall), frame)
	}
}

// putHeard writes frame at sample position pos of what was heard, filling
// any gap before it with silence.
func (s *Session) putHeard(pos int, frame []int16) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	if end := pos + len(frame); end > len(s.heard) {
		s.heard = append(s.heard, make([]int16, end-len(s.heard))...)
	}
	copy(s.heard[pos:], frame)
}

// padHeard extends what was heard with silence up to end, when the far end
// stopped sending RTP before the call ended, so Heard covers the whole call.
func (s *Session) padHeard(end time.Time) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	want := samples(end.Sub(s.answeredAt))
	if gap := want - len(s.heard); gap > samples(gapFill) {
		s.heard = append(s.heard, make([]int16, gap)...)
	}
}

// writeDigit sends one key as RFC 4733 events (about 100 ms of tone, then
// three end packets) in place of the audio stream, then moves the audio
// clock past the event; speech under way resumes after it, delayed, not
// cut. The key counts as sent, and EventDigitSent is emitted, once the first
// end packet went out: the far end has the key then and may hang up before
// the redundant end packets follow.
func (s *Session) writeDigit(key rune) (sent bool, err error) {
	events := media.RTPDTMFEncode8000(key)
	pt := media.CodecTelephoneEvent8000.PayloadType
	step := media.CodecTelephoneEvent8000.SampleDur

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	w := s.d.RTPPacketWriter
	t := time.NewTicker(step)
	defer t.Stop()
	for i, e := range events {
		if i > 0 {
			<-t.C
		}
		// All packets of one event carry its start timestamp.
		if _, err := w.WriteSamples(media.DTMFEncode(e), 0, i == 0, pt); err != nil {
			return sent, err
		}
		if e.EndOfEvent && !sent {
			sent = true
			s.emit(Event{Type: EventDigitSent, Digit: key})
		}
	}
	w.DelayTimestamp(uint32(len(events)) * media.CodecTelephoneEvent8000.SampleTimestamp())
	return true, nil
}

// writeRecording writes what was heard where Options ask.
func (s *Session) writeRecording(r *Result) error {
	var errs []error
	if s.cfg.RecordPath != "" {
		if err := audio.WriteWAVFile(s.cfg.RecordPath, r.Heard); err != nil {
			errs = append(errs, fmt.Errorf("sipcall: recording: %w", err))
		}
	}
	if s.cfg.RecordTo != nil {
		if err := audio.WriteWAV(s.cfg.RecordTo, r.Heard); err != nil {
			errs = append(errs, fmt.Errorf("sipcall: recording: %w", err))
		}
	}
	return errors.Join(errs...)
}
