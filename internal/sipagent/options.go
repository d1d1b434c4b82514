package sipagent

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Defaults for Options left zero.
const (
	DefaultBindHost = "127.0.0.2"
	DefaultExpiry   = 2 * time.Minute
	DefaultToneHz   = 1000
)

// Behaviour is how the phone treats each incoming call. Each INVITE takes
// the behaviour in force when it arrives; SetBehaviour changes it for the
// calls that follow. The zero value answers at once and waits for the far
// end to hang up.
type Behaviour struct {
	// AnswerAfter is how long the phone rings (180) before it answers, or
	// before it rejects when Reject is set. Zero answers at once.
	AnswerAfter time.Duration
	// NoAnswer makes the phone ring until the caller cancels (offer
	// timeouts), unless the test calls Call.Answer or Call.Reject.
	NoAnswer bool
	// Reject, when non-zero, is the final status sent instead of answering
	// (486 busy, 480 unavailable, 603 decline...): 400 to 699.
	Reject int
	// HangupAfter makes the agent hang up (BYE) this long after answering;
	// zero waits for the far end.
	HangupAfter time.Duration
}

func (b Behaviour) validate() error {
	if b.AnswerAfter < 0 || b.HangupAfter < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidOptions)
	}
	if b.Reject != 0 && (b.Reject < 400 || b.Reject > 699) {
		return fmt.Errorf("%w: reject status %d (want 400 to 699)", ErrInvalidOptions, b.Reject)
	}
	return nil
}

// Options describe one agent phone.
type Options struct {
	// Registrar is "host:port" of the registrar (Asterisk's SIP address;
	// port 5060 when omitted). Empty: the phone does not register and only
	// takes calls sent straight to Agent.Addr.
	Registrar string
	// Transport is "udp" (default) or "tcp", for registering and calls.
	Transport string
	// User is the endpoint id (e.g. "1001"): From, To and Contact user and
	// digest user name. Required with a Registrar; "agent" otherwise.
	User string
	// Password answers the registrar's digest challenge.
	Password string
	// BindHost is the local IP the phone sends from and listens on,
	// signalling and media (default 127.0.0.2). It must not be a trunk
	// source of the Asterisk instance, or Asterisk takes the phone for the
	// trunk.
	BindHost string
	// Expiry is the registration lifetime asked for (default 2 min;
	// Asterisk refuses less than 60 s). RefreshEvery is how often the
	// registration is renewed (default Expiry/2).
	Expiry       time.Duration
	RefreshEvery time.Duration

	// Behaviour is the initial behaviour; see SetBehaviour.
	Behaviour

	// Play is what the agent sends once it has answered, at audio.Rate
	// (8 kHz). It repeats until the call ends unless PlayOnce is set, after
	// which silence follows. Empty: ToneBursts(DefaultToneHz). Give each
	// agent its own tone so a caller's recording tells which agent it
	// reached; play audio.Silence to say nothing.
	Play     audio.PCM
	PlayOnce bool

	// OnEvent, when set, is called for each event as it happens, one at a
	// time and in order across all calls. It must return quickly; it may
	// call Call.Answer, Reject and Hangup, and SetBehaviour.
	OnEvent func(Event)
	// Logger receives diago's and sipgo's logs; nil discards them.
	Logger *slog.Logger
}

// ToneBursts is the default agent audio: 400 ms of a hz sine at -12 dBFS
// peak, then 600 ms of silence. Played in a loop it marks a recording with
// one burst per second.
func ToneBursts(hz float64) audio.PCM {
	return audio.Concat(
		audio.Tone(hz, 400*time.Millisecond, -12, audio.Rate),
		audio.Silence(600*time.Millisecond, audio.Rate),
	)
}

// config is Options validated and resolved.
type config struct {
	Options
	host      string
	port      int
	transport string
}

func (o Options) resolve() (config, error) {
	c := config{Options: o}
	bad := func(format string, a ...any) (config, error) {
		return config{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, a...)...)
	}

	if o.Registrar != "" {
		host, portText, err := net.SplitHostPort(o.Registrar)
		if err != nil {
			host, portText = strings.Trim(o.Registrar, "[]"), "5060"
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port <= 0 || port > 65535 || host == "" {
			return bad("registrar %q is not host:port", o.Registrar)
		}
		c.host, c.port = host, port
		if o.User == "" {
			return bad("no user to register")
		}
	}
	if c.User == "" {
		c.User = "agent"
	}
	if strings.ContainsAny(c.User, "@:;<>\" \t\r\n") {
		return bad("user %q is not a SIP user part", c.User)
	}

	switch t := strings.ToLower(o.Transport); t {
	case "", "udp":
		c.transport = "udp"
	case "tcp":
		c.transport = "tcp"
	default:
		return bad("transport %q (want udp or tcp)", o.Transport)
	}

	if c.BindHost == "" {
		c.BindHost = DefaultBindHost
	}
	if ip := net.ParseIP(c.BindHost); ip == nil || ip.IsUnspecified() {
		return bad("bind host %q is not a local IP address", c.BindHost)
	}

	if o.Expiry < 0 || o.RefreshEvery < 0 {
		return bad("negative registration interval")
	}
	if c.Expiry == 0 {
		c.Expiry = DefaultExpiry
	}
	if c.Expiry < time.Second {
		return bad("expiry %v is below 1s", c.Expiry)
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = c.Expiry / 2
	}
	if c.RefreshEvery >= c.Expiry {
		return bad("refresh every %v lets the registration (%v) lapse", c.RefreshEvery, c.Expiry)
	}

	if err := o.Behaviour.validate(); err != nil {
		return config{}, err
	}
	if len(c.Play.Samples) == 0 {
		c.Play = ToneBursts(DefaultToneHz)
	}
	if c.Play.Rate != audio.Rate {
		return bad("play rate %d (want %d)", c.Play.Rate, audio.Rate)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
