// Command ccctl is the administration CLI of the contact center: one
// subcommand per task, each in its own file. Run "ccctl help" for the list.
//
// Exit status: 0 on success, 1 when a command fails, 2 for a usage error
// (unknown command or flag, bad value).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// command is a subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(args []string) error
}

// commands maps each subcommand name to its implementation. Add a command
// by adding a file with its run function and one line here.
var commands = map[string]command{
	"flow":         {"administer IVR flows: validate, draft, publish, roll back, bind DIDs, simulate", runFlow},
	"call":         {"place a SIP call to the hotline and report what the caller heard", runCall},
	"cdr":          {"list the latest call detail records", runCDR},
	"stack":        {"start, stop or inspect the platform on this machine (up, down, status)", runStack},
	"trace":        {"trace codes: import, generate, lookup, check", runTrace},
	"queue":        {"ACD queues: list, show, put FILE, delete, live stats", runQueue},
	"agent":        {"ACD agents: list, show, put FILE, delete; login, logout, ready, pause, state", runAgent},
	"pause-reason": {"reason codes agents pause with: list, put FILE, delete", runPauseReason},
	"phone":        {"run an agent's SIP phone that answers the calls the ACD offers", runPhone},
}

// Where commands write; tests replace them.
var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the subcommand named by args[0] and returns the exit status.
func dispatch(args []string) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if _, ok := commands[rest[0]]; ok {
				// "ccctl help call" is "ccctl call -h".
				return dispatch([]string{rest[0], "-h"})
			}
			fmt.Fprintf(stderr, "ccctl: unknown command %q\n", rest[0])
			return 2
		}
		usage(stdout)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ccctl: unknown command %q (run \"ccctl help\" for the list)\n", name)
		return 2
	}

	err := cmd.run(rest)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ccctl %s: %v\n", name, ue)
		return 2
	default:
		fmt.Fprintf(stderr, "ccctl %s: %v\n", name, err)
		return 1
	}
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("usage: ccctl <command> [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "help", "list commands, or show a command's flags: ccctl help <command>")
	io.WriteString(w, b.String())
}

// usageError is a command line mistake: dispatch prints it and exits 2.
type usageError string

func (e usageError) Error() string { return string(e) }

func usagef(format string, a ...any) error {
	return usageError(fmt.Sprintf(format, a...))
}

// newFlags returns a flag set for subcommand name that reports errors
// instead of exiting. synopsis follows "usage: ccctl <name> ".
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ccctl %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and refuses positional arguments. -h gives
// flag.ErrHelp, anything wrong a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
