// Package config loads ccd's configuration: a YAML file with documented
// defaults, overridden by CCD_* environment variables. Unknown keys and invalid
// values are errors that name the key and where it came from.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ccd-platform/ccd/cti"
)

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole of ccd's configuration. Field comments are the
// documentation; deploy/ccd.example.yaml shows every key with its default.
type Config struct {
	// Instance names this ccd in records and logs.
	Instance string   `yaml:"instance"`
	HTTP     HTTP     `yaml:"http"`
	ARI      ARI      `yaml:"ari"`
	Asterisk Asterisk `yaml:"asterisk"`
	Redis    Redis    `yaml:"redis"`
	Postgres Postgres `yaml:"postgres"`
	NATS     NATS     `yaml:"nats"`
	Calls    Calls    `yaml:"calls"`
	Hotline  Hotline  `yaml:"hotline"`
	API      API      `yaml:"api"`
	TTS      TTS      `yaml:"tts"`
	Trace    Trace    `yaml:"trace"`
	ACD      ACD      `yaml:"acd"`
	Storage  Storage  `yaml:"storage"`
	Log      Log      `yaml:"log"`
}

// API is the admin and desktop HTTP API under /api (same listener as http).
type API struct {
	// Token is required as "Authorization: Bearer TOKEN" on every /api call.
	// Empty: the API refuses every call. make up generates one.
	Token string `yaml:"token"`
}

// TTS renders text prompts to speech.
type TTS struct {
	// Engine is espeak (espeak-ng from Debian) or http (an HTTP TTS service at URL).
	Engine string `yaml:"engine"`
	URL    string `yaml:"url"`
	// MediaURL is how Asterisk reaches ccd's HTTP server to fetch rendered
	// audio (it may run on another host): http://HOST:PORT.
	MediaURL string        `yaml:"media_url"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Trace is the traceability lookup.
type Trace struct {
	// Source is postgres (the local catalog) or http (an external platform at URL).
	Source  string        `yaml:"source"`
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
	// Codes: accepted length and whether the last digit is a GS1 mod-10 check digit.
	CodeMinLength  int  `yaml:"code_min_length"`
	CodeMaxLength  int  `yaml:"code_max_length"`
	CodeCheckDigit bool `yaml:"code_check_digit"`
}

// ACD is the queueing engine. Queues, agents and pause reasons themselves
// are configured through the admin API (ccctl queue/agent).
type ACD struct {
	// CallbackEndpoint dials customers back; {number} is replaced by their
	// number. Default: out through the trunk endpoint.
	CallbackEndpoint string `yaml:"callback_endpoint"`
	// CallbackAttempts is how often a customer is dialled before the callback is given up.
	CallbackAttempts int `yaml:"callback_attempts"`
	// ReservationTTL frees an agent whose offer was never ended (its ccd
	// died mid-offer); it must exceed the longest offer timeout.
	ReservationTTL time.Duration `yaml:"reservation_ttl"`
	// Tick is how often the dispatcher looks again without a wake-up.
	Tick time.Duration `yaml:"tick"`
	// DutyManager is where the desktop's "duty manager" transfer goes:
	// agent:<id> or number:<digits> (a mobile, dialled as callbacks are).
	DutyManager string `yaml:"duty_manager"`
}

// Storage is where ccd keeps files: the TTS cache and recordings.
type Storage struct {
	Dir string `yaml:"dir"`
}

// HTTP is the service's own HTTP listener (health, API).
type HTTP struct {
	Listen string `yaml:"listen"`
}

// ARI is how ccd reaches Asterisk.
type ARI struct {
	URL            string        `yaml:"url"`
	User           string        `yaml:"user"`
	Password       string        `yaml:"password"`
	App            string        `yaml:"app"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	ReconnectMin   time.Duration `yaml:"reconnect_min"`
	ReconnectMax   time.Duration `yaml:"reconnect_max"`
}

// Asterisk describes the locally installed Asterisk, when ccd runs beside it.
type Asterisk struct {
	// Root is the self-contained Asterisk root built by deploy/asterisk.sh.
	// Empty means Asterisk is managed elsewhere and ccd only talks ARI to it.
	Root string `yaml:"root"`
	// Instance is the Asterisk instance directory deploy/asterisk.sh
	// configured (its instance.env and credentials.env). ccd reads the
	// agents' WebRTC seats, passwords and the SIP WebSocket address from it
	// for the browser softphone. Empty: agents use desk phones only.
	Instance string `yaml:"instance"`
}

// Redis holds live state.
type Redis struct {
	Addr     string `yaml:"addr"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
}

// Postgres keeps records.
type Postgres struct {
	DSN string `yaml:"dsn"`
}

// NATS carries events and commands. An empty URL runs an embedded server.
type NATS struct {
	URL            string `yaml:"url"`
	EmbeddedListen string `yaml:"embedded_listen"`
}

// Calls bounds call handling.
type Calls struct {
	// DrainTimeout is how long the first SIGTERM waits for calls in progress.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// CleanupTimeout bounds the hang-up and record writing after a call ends.
	CleanupTimeout time.Duration `yaml:"cleanup_timeout"`
	// MaxDuration ends a call that runs longer than this.
	MaxDuration time.Duration `yaml:"max_duration"`
}

// Hotline is the built-in flow: greeting, digits up to the terminator, goodbye.
type Hotline struct {
	Greeting          []string      `yaml:"greeting"`
	Goodbye           []string      `yaml:"goodbye"`
	Terminator        string        `yaml:"terminator"`
	MaxDigits         int           `yaml:"max_digits"`
	FirstDigitTimeout time.Duration `yaml:"first_digit_timeout"`
	InterDigitTimeout time.Duration `yaml:"inter_digit_timeout"`
}

// Log sets the logger.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the documented defaults.
func Default() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "ccd"
	}
	return Config{
		Instance: host,
		HTTP:     HTTP{Listen: "127.0.0.1:8080"},
		ARI: ARI{
			URL:            "http://127.0.0.1:8088",
			User:           "ccd",
			App:            "ccd",
			RequestTimeout: 15 * time.Second,
			ReconnectMin:   200 * time.Millisecond,
			ReconnectMax:   10 * time.Second,
		},
		Redis:    Redis{Addr: "127.0.0.1:6380"},
		Postgres: Postgres{DSN: "postgres://ccd@127.0.0.1:5433/ccd?sslmode=disable"},
		NATS:     NATS{EmbeddedListen: "127.0.0.1:4222"},
		Calls: Calls{
			DrainTimeout:   30 * time.Second,
			CleanupTimeout: 5 * time.Second,
			MaxDuration:    4 * time.Hour,
		},
		Hotline: Hotline{
			Greeting:          []string{"sound:hello-world"},
			Goodbye:           []string{"sound:auth-thankyou", "sound:goodbye"},
			Terminator:        "#",
			MaxDigits:         32,
			FirstDigitTimeout: 10 * time.Second,
			InterDigitTimeout: 5 * time.Second,
		},
		TTS:     TTS{Engine: "espeak", MediaURL: "http://127.0.0.1:8080", Timeout: 10 * time.Second},
		Trace:   Trace{Source: "postgres", Timeout: 2 * time.Second, CodeMinLength: 13, CodeMaxLength: 20, CodeCheckDigit: true},
		ACD:     ACD{CallbackEndpoint: "PJSIP/{number}@trunk", CallbackAttempts: 3, ReservationTTL: 90 * time.Second, Tick: 250 * time.Millisecond},
		Storage: Storage{Dir: "/var/lib/ccd/data"},
		Log:     Log{Level: "info", Format: "json"},
	}
}

// EnvPrefix starts every environment override: ari.password is CCD_ARI_PASSWORD.
const EnvPrefix = "CCD_"

// Load reads path (empty: defaults only), applies environment overrides from
// environ (os.Environ() form) and validates the result.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if err := decodeYAML(path, data, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		return cfg, err
	}
	return cfg, nil
}

var yamlFieldErr = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)

func decodeYAML(path string, data []byte, cfg *Config) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, 0, len(te.Errors))
			for _, e := range te.Errors {
				if m := yamlFieldErr.FindStringSubmatch(e); m != nil {
					section := sectionName(m[3])
					key := m[2]
					if section != "" {
						key = section + "." + key
					}
					msgs = append(msgs, fmt.Sprintf("line %s: unknown key %q", m[1], key))
					continue
				}
				msgs = append(msgs, strings.TrimPrefix(e, "yaml: "))
			}
			return fmt.Errorf("%w: %s: %s", ErrInvalid, path, strings.Join(msgs, "; "))
		}
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return nil
}

// sectionName maps a Go type name back to its YAML section for messages.
func sectionName(goType string) string {
	if goType == "Config" {
		return ""
	}
	for _, f := range fields(Config{}) {
		if f.typeName == goType {
			return f.key
		}
	}
	return strings.ToLower(goType)
}

// Validate checks every value and reports all problems at once.
func (c Config) Validate() error {
	var errs []string
	add := func(key, format string, a ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, a...))
	}
	if c.Instance == "" {
		add("instance", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		add("http.listen", "%q is not host:port", c.HTTP.Listen)
	}
	if u, err := url.Parse(c.ARI.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("ari.url", "%q is not an http(s) URL", c.ARI.URL)
	}
	if c.ARI.User == "" {
		add("ari.user", "must not be empty")
	}
	if c.ARI.Password == "" {
		add("ari.password", "must be set (deploy/asterisk.sh generates it into the instance's credentials.env)")
	}
	if c.ARI.App == "" {
		add("ari.app", "must not be empty")
	}
	positive := map[string]time.Duration{
		"ari.request_timeout":         c.ARI.RequestTimeout,
		"ari.reconnect_min":           c.ARI.ReconnectMin,
		"ari.reconnect_max":           c.ARI.ReconnectMax,
		"calls.drain_timeout":         c.Calls.DrainTimeout,
		"calls.cleanup_timeout":       c.Calls.CleanupTimeout,
		"calls.max_duration":          c.Calls.MaxDuration,
		"hotline.first_digit_timeout": c.Hotline.FirstDigitTimeout,
		"hotline.inter_digit_timeout": c.Hotline.InterDigitTimeout,
		"acd.reservation_ttl":         c.ACD.ReservationTTL,
		"acd.tick":                    c.ACD.Tick,
	}
	for _, k := range sortedKeys(positive) {
		if positive[k] <= 0 {
			add(k, "must be a positive duration, got %s", positive[k])
		}
	}
	if c.ACD.DutyManager != "" {
		if t, err := cti.ParseTarget(c.ACD.DutyManager); err != nil || t.Kind == cti.TargetQueue {
			add("acd.duty_manager", "%q must be agent:<id> or number:<digits>", c.ACD.DutyManager)
		}
	}
	if !strings.Contains(c.ACD.CallbackEndpoint, "{number}") || !strings.Contains(c.ACD.CallbackEndpoint, "/") {
		add("acd.callback_endpoint", "%q must be a dial string with {number}, e.g. PJSIP/{number}@trunk", c.ACD.CallbackEndpoint)
	}
	if c.ACD.CallbackAttempts < 1 || c.ACD.CallbackAttempts > 10 {
		add("acd.callback_attempts", "must be 1..10, got %d", c.ACD.CallbackAttempts)
	}
	if c.ARI.ReconnectMax < c.ARI.ReconnectMin {
		add("ari.reconnect_max", "must not be below ari.reconnect_min")
	}
	if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
		add("redis.addr", "%q is not host:port", c.Redis.Addr)
	}
	if c.Redis.DB < 0 {
		add("redis.db", "must not be negative")
	}
	if u, err := url.Parse(c.Postgres.DSN); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		add("postgres.dsn", "must be a postgres:// URL")
	}
	if c.NATS.URL != "" {
		if u, err := url.Parse(c.NATS.URL); err != nil || u.Host == "" {
			add("nats.url", "%q is not a nats:// URL", c.NATS.URL)
		}
	} else if _, _, err := net.SplitHostPort(c.NATS.EmbeddedListen); err != nil {
		add("nats.embedded_listen", "%q is not host:port", c.NATS.EmbeddedListen)
	}
	if len(c.Hotline.Greeting) == 0 {
		add("hotline.greeting", "needs at least one media URI")
	}
	for _, list := range []struct {
		key   string
		media []string
	}{{"hotline.greeting", c.Hotline.Greeting}, {"hotline.goodbye", c.Hotline.Goodbye}} {
		for i, m := range list.media {
			if !validMedia(m) {
				add(fmt.Sprintf("%s[%d]", list.key, i), "%q is not a media URI (sound:NAME, tone:..., digits:..., recording:NAME)", m)
			}
		}
	}
	if len(c.Hotline.Terminator) != 1 || !strings.Contains("0123456789*#", c.Hotline.Terminator) {
		add("hotline.terminator", "must be one DTMF key (0-9, * or #), got %q", c.Hotline.Terminator)
	}
	if c.Hotline.MaxDigits < 1 || c.Hotline.MaxDigits > 128 {
		add("hotline.max_digits", "must be between 1 and 128, got %d", c.Hotline.MaxDigits)
	}
	switch c.TTS.Engine {
	case "espeak":
	case "http":
		if u, err := url.Parse(c.TTS.URL); err != nil || u.Host == "" {
			add("tts.url", "must be an http(s) URL when tts.engine is http")
		}
	default:
		add("tts.engine", "must be espeak or http, got %q", c.TTS.Engine)
	}
	if u, err := url.Parse(c.TTS.MediaURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("tts.media_url", "%q is not an http(s) URL Asterisk can reach", c.TTS.MediaURL)
	}
	switch c.Trace.Source {
	case "postgres":
	case "http":
		if u, err := url.Parse(c.Trace.URL); err != nil || u.Host == "" {
			add("trace.url", "must be an http(s) URL when trace.source is http")
		}
	default:
		add("trace.source", "must be postgres or http, got %q", c.Trace.Source)
	}
	if c.TTS.Timeout <= 0 {
		add("tts.timeout", "must be a positive duration")
	}
	if c.Trace.Timeout <= 0 {
		add("trace.timeout", "must be a positive duration")
	}
	if c.Trace.CodeMinLength < 1 || c.Trace.CodeMaxLength < c.Trace.CodeMinLength || c.Trace.CodeMaxLength > 64 {
		add("trace.code_min_length", "code lengths must satisfy 1 <= min <= max <= 64, got %d..%d", c.Trace.CodeMinLength, c.Trace.CodeMaxLength)
	}
	if c.Storage.Dir == "" {
		add("storage.dir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", "must be json or console, got %q", c.Log.Format)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func validMedia(m string) bool {
	scheme, rest, ok := strings.Cut(m, ":")
	if !ok || rest == "" {
		return false
	}
	switch scheme {
	case "sound", "tone", "digits", "number", "recording", "characters":
		return true
	}
	return false
}
