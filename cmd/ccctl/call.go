package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
)

// errNotAnswered makes "ccctl call" exit 1 after its summary.
var errNotAnswered = errors.New("call not answered")

func runCall(args []string) error {
	fs := newFlags("call", "[flags]\n\nPlaces a real SIP call to the hotline, prints each step as it happens,\nthen a summary. Exits 1 if the call is not answered.")
	to := fs.String("to", "127.0.0.1:5060", "SIP trunk `host:port`")
	transport := fs.String("transport", "udp", "SIP transport: udp or tcp")
	did := fs.String("did", "4006001000", "dialled `number`")
	from := fs.String("from", "13800138000", "caller `number`")
	bind := fs.String("bind", "", "local `IP` to call from (default: the address routed to --to)")
	digits := fs.String("digits", "", "DTMF to send after the answer, e.g. \"123456#\" or \"w500,1,2,w1000,#\"\n(keys 0-9 * # A-D; w<duration> waits, bare numbers are ms; commas optional)")
	gap := fs.Duration("gap", 300*time.Millisecond, "pause between two keys")
	wait := fs.Duration("wait", 2*time.Second, "pause after the answer before the first key, unless --digits starts with its own w<duration>")
	record := fs.String("record", "", "write what the caller heard to this WAV `file` (8 kHz 16-bit mono)")
	hangupAfter := fs.Duration("hangup-after", 0, "hang up this long after the answer (0: wait for the far end)")
	maxDur := fs.Duration("max", 60*time.Second, "give up (cancel or hang up) this long after the INVITE")
	user := fs.String("user", "", "digest auth user")
	password := fs.String("password", "", "digest auth password")
	codecs := fs.String("codecs", "PCMU,PCMA", "audio codecs to offer, in order")
	debug := fs.Bool("debug", false, "log SIP and media internals to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	switch {
	case *gap < 0 || *wait < 0 || *hangupAfter < 0:
		return usagef("--gap, --wait and --hangup-after must not be negative")
	case *maxDur <= 0:
		return usagef("--max must be positive")
	case *password != "" && *user == "":
		return usagef("--password needs --user")
	}
	keys, err := sipcall.ParseDigits(*digits, *gap)
	if err != nil {
		return usagef("--digits: %v", err)
	}
	// A spec that starts with its own wait ("w1500,1,2") sets the pause
	// before the first key itself.
	if len(keys) > 0 && !strings.HasPrefix(strings.ToLower(strings.TrimLeft(*digits, ", \t")), "w") {
		keys[0].Delay += *wait
	}

	logger := slog.New(slog.DiscardHandler)
	if *debug {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// sipgo and diago also log through package-level loggers that fall
	// back to slog's default (which, unlike theirs, is safe to swap while
	// other goroutines log).
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	o := sipcall.Options{
		Target:       *to,
		Transport:    *transport,
		DID:          *did,
		From:         *from,
		BindHost:     *bind,
		AuthUser:     *user,
		AuthPassword: *password,
		Codecs:       strings.FieldsFunc(*codecs, func(r rune) bool { return r == ',' || r == ' ' }),
		Digits:       keys,
		HangupAfter:  *hangupAfter,
		MaxDuration:  *maxDur,
		RecordPath:   *record,
		Logger:       logger,
		OnEvent: func(e sipcall.Event) {
			fmt.Fprintf(stdout, "%9s  %s\n", fmt.Sprintf("+%.3fs", e.Since.Seconds()), e)
		},
	}
	fmt.Fprintf(stdout, "calling %s at %s over %s from %s\n", *did, *to, *transport, *from)
	res, err := sipcall.Call(ctx, o)
	if errors.Is(err, sipcall.ErrInvalidOptions) {
		return usageError(err.Error())
	}
	if res != nil {
		printSummary(res)
	}
	switch {
	case err != nil:
		return err
	case !res.Answered:
		return fmt.Errorf("%w: %d %s", errNotAnswered, res.StatusCode, res.Reason)
	}
	return nil
}

func printSummary(r *sipcall.Result) {
	w := stdout
	fmt.Fprintln(w)
	if r.Answered {
		fmt.Fprintf(w, "answered:    yes (%s)\n", r.Codec)
	} else {
		fmt.Fprintln(w, "answered:    no")
	}
	if r.StatusCode != 0 {
		fmt.Fprintf(w, "SIP status:  %d %s\n", r.StatusCode, r.Reason)
	} else {
		fmt.Fprintln(w, "SIP status:  no final response")
	}
	if !r.Answered {
		return
	}
	fmt.Fprintf(w, "duration:    %.2fs\n", r.Duration().Seconds())
	by := r.HungUpBy
	if r.RemoteReason != "" {
		by += " (" + r.RemoteReason + ")"
	}
	fmt.Fprintf(w, "hung up by:  %s\n", by)
	if r.DigitsSent != "" {
		fmt.Fprintf(w, "digits sent: %s\n", r.DigitsSent)
	}
	fmt.Fprintf(w, "heard:       %.2fs of active audio in %.2fs recorded\n",
		audio.ActiveDuration(r.Heard).Seconds(), r.Heard.Duration().Seconds())
	if r.RecordPath != "" {
		fmt.Fprintf(w, "recording:   %s\n", r.RecordPath)
	} else {
		fmt.Fprintln(w, "recording:   not kept (use --record file.wav)")
	}
}
