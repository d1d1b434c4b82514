package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ccd-platform/ccd/internal/asterisk"
	"github.com/ccd-platform/ccd/internal/sipagent"
)

// runPhone runs an agent's SIP phone: it registers as the agent's endpoint
// and answers the calls the ACD offers, until interrupted.
func runPhone(args []string) error {
	fs := newFlags("phone", "[flags] AGENT\n\nRegisters a SIP phone as agent endpoint AGENT (e.g. 1001) of the local\nAsterisk and answers the calls it is offered, printing each step, until\nCtrl-C. The password comes from the instance's credentials.")
	dir := fs.String("dir", "/var/lib/ccd/asterisk", "Asterisk instance `directory` (make up's)")
	answerAfter := fs.Duration("answer-after", time.Second, "ring this long before answering")
	talk := fs.Duration("talk", 10*time.Second, "hang up this long after answering (0: wait for the caller)")
	noAnswer := fs.Bool("no-answer", false, "never answer: let offers time out")
	reject := fs.Int("reject", 0, "refuse calls with this SIP status (e.g. 486 busy)")
	bind := fs.String("bind", "127.0.0.2", "local `IP` of the phone (not a trunk source)")
	// "ccctl phone 1001 --talk 15s" as well as "ccctl phone --talk 15s 1001".
	var agent string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		agent, args = args[0], args[1:]
	} else if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") {
		agent, args = args[n-1], args[:n-1]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if agent == "" {
		return usagef("give one agent id, e.g. ccctl phone 1001")
	}
	inst, err := asterisk.Open(*dir, asterisk.Options{})
	if err != nil {
		return fmt.Errorf("Asterisk instance %s: %w (is the platform up? make up)", filepath.Clean(*dir), err)
	}
	password, ok := inst.AgentPasswords[agent]
	if !ok {
		return fmt.Errorf("agent %s has no SIP endpoint in %s (endpoints: %v)", agent, *dir, inst.Agents)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	phone, err := sipagent.Start(ctx, sipagent.Options{
		Registrar: inst.SIPAddr, User: agent, Password: password, BindHost: *bind,
		Behaviour: sipagent.Behaviour{AnswerAfter: *answerAfter, HangupAfter: *talk, NoAnswer: *noAnswer, Reject: *reject},
		OnEvent: func(e sipagent.Event) {
			fmt.Fprintf(stdout, "%s  %s\n", e.At.Format("15:04:05.000"), e)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "phone %s registered at %s; log the agent in with: ccctl agent login %s (Ctrl-C to stop)\n", agent, inst.SIPAddr, agent)
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return phone.Close(cctx)
}
