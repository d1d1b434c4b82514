package sipcall

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/emiago/diago/media"
	"github.com/zaf/g711"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Utterance is audio the caller says during the call (Options.Say).
type Utterance struct {
	// After is when the caller starts saying it, counted from the answer.
	// An utterance due while another is being said follows it.
	After time.Duration
	// Audio is what is said: mono PCM at audio.Rate (8 kHz).
	Audio audio.PCM
}

// speech is audio queued for sending, G.711 encoded in whole packets (the
// tail of the last one is silence).
type speech struct {
	enc  []byte
	pos  int           // next byte to send
	done chan struct{} // closed once its last packet went out
}

// checkAudio reports why p cannot be said, if it cannot.
func checkAudio(p audio.PCM) error {
	if len(p.Samples) > 0 && p.Rate != audio.Rate {
		return fmt.Errorf("sample rate %d, want %d", p.Rate, audio.Rate)
	}
	return nil
}

// talk sends the caller's side of the call, paced by the packet writer at
// one packet per 20 ms, until told to stop or media closes: queued speech,
// or G.711 silence between utterances, as a phone does. Options.Say
// utterances are queued as they fall due.
func (s *Session) talk() {
	defer close(s.talkDone)
	silence := byte(ulawSilence)
	if s.codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		silence = alawSilence
	}
	quiet := bytes.Repeat([]byte{silence}, int(s.codec.SampleTimestamp()))
	due := s.cfg.say
	w := s.d.RTPPacketWriter
	for {
		select {
		case <-s.stopTalk:
			return
		default:
		}
		for len(due) > 0 && time.Since(s.answeredAt) >= due[0].After {
			if len(due[0].Audio.Samples) > 0 {
				s.queueSpeech(s.encode(due[0].Audio))
			}
			due = due[1:]
		}
		payload, finished := s.nextSpeech(len(quiet))
		if payload == nil {
			payload = quiet
		}
		s.writeMu.Lock()
		_, err := w.Write(payload)
		s.writeMu.Unlock()
		if err != nil {
			return
		}
		if finished != nil {
			close(finished.done)
		}
	}
}

// encode turns p into speech in the negotiated codec.
func (s *Session) encode(p audio.PCM) *speech {
	encode, silence := g711.EncodeUlawFrame, byte(ulawSilence)
	if s.codec.PayloadType == media.CodecAudioAlaw.PayloadType {
		encode, silence = g711.EncodeAlawFrame, alawSilence
	}
	size := int(s.codec.SampleTimestamp())
	enc := make([]byte, 0, (len(p.Samples)+size-1)/size*size)
	for _, v := range p.Samples {
		enc = append(enc, encode(v))
	}
	for len(enc)%size != 0 {
		enc = append(enc, silence)
	}
	return &speech{enc: enc, done: make(chan struct{})}
}

func (s *Session) queueSpeech(sp *speech) {
	s.sayMu.Lock()
	defer s.sayMu.Unlock()
	s.speech = append(s.speech, sp)
}

// nextSpeech takes the next packet of queued speech, nil when there is none.
// finished is the speech it ends, if it does; it has left the queue.
func (s *Session) nextSpeech(size int) (payload []byte, finished *speech) {
	s.sayMu.Lock()
	defer s.sayMu.Unlock()
	if len(s.speech) == 0 {
		return nil, nil
	}
	sp := s.speech[0]
	payload = sp.enc[sp.pos : sp.pos+size]
	sp.pos += size
	if sp.pos == len(sp.enc) {
		s.speech = slices.Delete(s.speech, 0, 1)
		finished = sp
	}
	return payload, finished
}

// dropSpeech takes sp out of the queue, what is left of it unsaid.
func (s *Session) dropSpeech(sp *speech) {
	s.sayMu.Lock()
	defer s.sayMu.Unlock()
	s.speech = slices.DeleteFunc(s.speech, func(q *speech) bool { return q == sp })
}

// Say sends p (8 kHz PCM, G.711 encoded in the call's RTP stream in place of
// silence) and returns once it has all gone out, about its duration later.
// Speech already queued (an earlier Say, a due Options.Say utterance) is
// said first; DTMF keys sent meanwhile interrupt it and it resumes after
// them. If ctx ends first Say returns ctx's error, and if the call ends
// first ErrCallEnded; the rest of p is then not sent.
func (s *Session) Say(ctx context.Context, p audio.PCM) error {
	if err := checkAudio(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidAudio, err)
	}
	select {
	case <-s.ending:
		return ErrCallEnded
	default:
	}
	if len(p.Samples) == 0 {
		return nil
	}
	sp := s.encode(p)
	s.queueSpeech(sp)
	var err error
	select {
	case <-sp.done:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-s.ending:
		err = ErrCallEnded
	case <-s.talkDone:
		err = ErrCallEnded
	}
	s.dropSpeech(sp)
	select {
	case <-sp.done: // its last packet went out meanwhile
		return nil
	default:
		return err
	}
}
