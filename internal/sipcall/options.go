package sipcall

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/diago/media"
)

// DefaultMaxDuration bounds a call when Options.MaxDuration is zero.
const DefaultMaxDuration = 5 * time.Minute

// Options describe one call.
type Options struct {
	// Target is "host:port" of the SIP trunk (port 5060 when omitted).
	Target string
	// Transport is "udp" (default) or "tcp".
	Transport string
	// DID is the dialled number: the user part of the request URI.
	DID string
	// From is the caller number, the From user ("anonymous" when empty).
	From string
	// BindHost is the local IP to send from, signalling and media. When
	// empty it is the address the system routes Target from (127.0.0.1
	// for a loopback target). Any loopback address works on Linux, so a
	// test can call from 127.0.0.3 to play an unknown source.
	BindHost string
	// AuthUser and AuthPassword answer a 401/407 challenge when set.
	AuthUser, AuthPassword string
	// Codecs lists the audio codecs offered, in preference order: "PCMU"
	// and/or "PCMA" (default both, PCMU first). telephone-event/8000 is
	// always offered for DTMF.
	Codecs []string

	// Digits are sent after the answer, each Delay after the previous one.
	Digits []Digit
	// Say is what the caller says: each utterance from its offset after
	// the answer, in the call's RTP stream in place of silence. Between
	// utterances the caller is silent again.
	Say []Utterance
	// HangupAfter makes the caller hang up this long after the answer;
	// zero waits for the far end (or MaxDuration).
	HangupAfter time.Duration
	// MaxDuration bounds the whole call from the INVITE on; when it passes
	// the caller cancels or hangs up. Zero means DefaultMaxDuration.
	MaxDuration time.Duration

	// RecordPath, when set, receives what the caller heard as a WAV file
	// (8 kHz 16-bit mono) once the call ends.
	RecordPath string
	// RecordTo, when set, receives the same WAV stream once the call ends.
	RecordTo io.Writer

	// OnEvent, when set, is called for each event as it happens, one call
	// at a time and in order. It must return quickly; it may call Hangup
	// but not SendDigits, Say or Wait.
	OnEvent func(Event)
	// Logger receives diago's and sipgo's logs; nil discards them.
	Logger *slog.Logger
}

// config is Options validated and resolved.
type config struct {
	Options
	host      string
	port      int
	transport string
	codecs    []media.Codec
	say       []Utterance // Options.Say by offset
}

func (o Options) resolve() (config, error) {
	c := config{Options: o}
	bad := func(format string, a ...any) (config, error) {
		return config{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, a...)...)
	}

	if o.Target == "" {
		return bad("no target")
	}
	host, portText, err := net.SplitHostPort(o.Target)
	if err != nil {
		// No port: the whole target is the host.
		host, portText = strings.Trim(o.Target, "[]"), "5060"
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 || host == "" {
		return bad("target %q is not host:port", o.Target)
	}
	c.host, c.port = host, port

	switch t := strings.ToLower(o.Transport); t {
	case "", "udp":
		c.transport = "udp"
	case "tcp":
		c.transport = "tcp"
	default:
		return bad("transport %q (want udp or tcp)", o.Transport)
	}

	if o.DID == "" {
		return bad("no DID to dial")
	}
	if strings.ContainsAny(o.DID, "@:;<> \t\r\n") {
		return bad("DID %q is not a SIP user part", o.DID)
	}
	if strings.ContainsAny(o.From, "@:;<> \t\r\n\"") {
		return bad("From %q is not a SIP user part", o.From)
	}
	if c.From == "" {
		c.From = "anonymous"
	}

	if c.BindHost == "" {
		c.BindHost = routeFrom(host, port)
	}
	if ip := net.ParseIP(c.BindHost); ip == nil || ip.IsUnspecified() {
		return bad("bind host %q is not a local IP address", o.BindHost)
	}

	names := o.Codecs
	if len(names) == 0 {
		names = []string{"PCMU", "PCMA"}
	}
	for _, n := range names {
		switch strings.ToUpper(n) {
		case "PCMU":
			c.codecs = append(c.codecs, media.CodecAudioUlaw)
		case "PCMA":
			c.codecs = append(c.codecs, media.CodecAudioAlaw)
		default:
			return bad("codec %q (want PCMU or PCMA)", n)
		}
	}
	c.codecs = append(c.codecs, media.CodecTelephoneEvent8000)

	for i, d := range o.Digits {
		if !validKey(d.Key) {
			return bad("digit %d: key %q is not 0-9 * # A-D", i+1, d.Key)
		}
		if d.Delay < 0 {
			return bad("digit %d: negative delay", i+1)
		}
	}
	for i, u := range o.Say {
		if u.After < 0 {
			return bad("utterance %d: negative offset", i+1)
		}
		if err := checkAudio(u.Audio); err != nil {
			return bad("utterance %d: %v", i+1, err)
		}
	}
	c.say = slices.Clone(o.Say)
	slices.SortStableFunc(c.say, func(a, b Utterance) int { return cmp.Compare(a.After, b.After) })
	if o.HangupAfter < 0 || o.MaxDuration < 0 {
		return bad("negative duration")
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// routeFrom is the local address the system would send to host:port from,
// or 127.0.0.1 when it cannot tell. No packet is sent.
func routeFrom(host string, port int) string {
	conn, err := net.Dial("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return "127.0.0.1"
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
		return a.IP.String()
	}
	return "127.0.0.1"
}
