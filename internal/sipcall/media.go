package sipcall

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/diago/media"
	"github.com/zaf/g711"

	"github.com/ccd-platform/ccd/internal/audio"
)

// gapFill is how far behind the wall clock the recording may fall before
// the missing time is filled with silence: pauses in the far end's RTP then
// stay pauses in Heard, while ordinary jitter does not stretch it.
const gapFill = 100 * time.Millisecond

// record decodes the far end's audio into s.heard until media closes.
// Telephone-events and packets of other payload types are skipped.
func (s *Session) record() {
	r := s.d.RTPPacketReader
	decode := g711.DecodeUlawFrame
	if s.codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		decode = g711.DecodeAlawFrame
	}
	buf := make([]byte, media.RTPBufSize)
	frame := make([]int16, 0, media.RTPBufSize)
	for {
		n, err := r.Read(buf)
		if err != nil {
			return
		}
		if n == 0 || r.PacketHeader.PayloadType != s.codec.PayloadType {
			continue
		}
		frame = frame[:0]
		for _, b := range buf[:n] {
			frame = append(frame, decode(b))
		}
		s.appendHeard(frame, time.Now())
	}
}

// appendHeard places frame, which arrived at now, on the timeline that
// starts at the answer.
func (s *Session) appendHeard(frame []int16, now time.Time) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	start := int(now.Sub(s.answeredAt)*audio.Rate/time.Second) - len(frame)
	if gap := start - len(s.heard); gap > int(gapFill*audio.Rate/time.Second) {
		s.heard = append(s.heard, make([]int16, gap)...)
	}
	s.heard = append(s.heard, frame...)
}

// padHeard extends what was heard with silence up to end, when the far end
// stopped sending RTP before the call ended, so Heard covers the whole call.
func (s *Session) padHeard(end time.Time) {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	want := int(end.Sub(s.answeredAt) * audio.Rate / time.Second)
	if gap := want - len(s.heard); gap > int(gapFill*audio.Rate/time.Second) {
		s.heard = append(s.heard, make([]int16, gap)...)
	}
}

// sendSilence keeps a stream of G.711 silence going to the far end, as a
// phone does, until told to stop or media closes. The packet writer paces it
// at one packet per 20 ms.
func (s *Session) sendSilence() {
	silence := byte(0xFF) // µ-law zero
	if s.codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		silence = 0xD5 // A-law zero
	}
	payload := bytes.Repeat([]byte{silence}, int(s.codec.SampleTimestamp()))
	w := s.d.RTPPacketWriter
	for {
		select {
		case <-s.stopSilent:
			return
		default:
		}
		s.writeMu.Lock()
		_, err := w.Write(payload)
		s.writeMu.Unlock()
		if err != nil {
			return
		}
	}
}

// writeDigit sends one key as RFC 4733 events (about 100 ms of tone, then
// three end packets) in place of the silence stream, then moves the audio
// clock past the event. The key counts as sent, and EventDigitSent is
// emitted, once the first end packet went out: the far end has the key then
// and may hang up before the redundant end packets follow.
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
