package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/trace"
)

// traceCommands are the subcommands of `ccctl trace`.
var traceCommands = []struct {
	name, summary string
	run           func(args []string) error
}{
	{"import", "load a CSV file of trace records into the catalog (all lines or none)", runTraceImport},
	{"generate", "write a CSV file of realistic sample records", runTraceGenerate},
	{"lookup", "look a code up and print its record and the read-outs in Chinese and English", runTraceLookup},
	{"check", "check a code's digits, length and check digit", runTraceCheck},
}

// runTrace is `ccctl trace <subcommand>`.
func runTrace(args []string) error {
	if len(args) == 0 || slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		var b strings.Builder
		b.WriteString("usage: ccctl trace <subcommand> [flags]\n\nsubcommands:\n")
		for _, c := range traceCommands {
			fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
		}
		b.WriteString("\nThe CSV columns are: " + strings.Join(trace.Columns(), ", ") + "\n")
		io.WriteString(stderr, b.String())
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return flag.ErrHelp
	}
	for _, c := range traceCommands {
		if c.name == args[0] {
			return c.run(args[1:])
		}
	}
	return usagef("unknown subcommand %q (import, generate, lookup, check)", args[0])
}

// parseFlagsArgs parses args into fs, allowing flags before and after the
// positional arguments, and returns exactly the named positional ones.
func parseFlagsArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError(err.Error())
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(names) {
		return nil, usagef("want %s, got %d argument(s)", strings.Join(names, " "), len(pos))
	}
	return pos, nil
}

// catalogFlags are the flags that say where the catalog is.
type catalogFlags struct {
	dsn, cfgPath *string
}

func addCatalogFlags(fs *flag.FlagSet) catalogFlags {
	return catalogFlags{
		cfgPath: fs.String("dsn-from", "/var/lib/ccd/ccd.yaml", "ccd configuration to take the PostgreSQL DSN, code rules and trace source from"),
		dsn:     fs.String("dsn", "", "PostgreSQL DSN (overrides --dsn-from; default code rules)"),
	}
}

// resolve returns the DSN, the code rules and, unless --dsn is given, the
// configuration they came from.
func (f catalogFlags) resolve() (string, trace.CodeRules, *config.Config, error) {
	if *f.dsn != "" {
		return *f.dsn, trace.DefaultCodeRules, nil, nil
	}
	cfg, err := config.Load(*f.cfgPath, nil)
	if err != nil {
		return "", trace.CodeRules{}, nil, err
	}
	rules := trace.CodeRules{MinLen: cfg.Trace.CodeMinLength, MaxLen: cfg.Trace.CodeMaxLength, CheckDigit: cfg.Trace.CodeCheckDigit}
	return cfg.Postgres.DSN, rules, &cfg, nil
}

func runTraceImport(args []string) error {
	fs := newFlags("trace import", "FILE.csv [--dsn DSN | --dsn-from /var/lib/ccd/ccd.yaml]\n\n"+
		"Loads all lines of the file in one transaction; a code already in the\n"+
		"catalog is updated. A bad line rejects the whole file (exit 1) with its\n"+
		"line number and field. Columns: see \"ccctl trace\".")
	where := addCatalogFlags(fs)
	pos, err := parseFlagsArgs(fs, args, "FILE.csv")
	if err != nil {
		return err
	}
	dsn, rules, _, err := where.resolve()
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := trace.Import(ctx, pool, f, trace.WithCodeRules(rules))
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "imported %d trace records from %s\n", n, pos[0])
	return nil
}

func runTraceGenerate(args []string) error {
	fs := newFlags("trace generate", "[-n 200] [--seed 1] [-o FILE.csv]\n\n"+
		"Writes realistic sample records (the same for the same seed), the first\n"+
		"one always the demo code "+string(trace.SampleCode)+".")
	n := fs.Int("n", 200, "how many records")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("o", "", "output `file` (default: standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return usagef("-n must be at least 1")
	}
	recs := trace.Generate(*n, *seed)
	if *out == "" {
		return trace.WriteCSV(stdout, recs)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := trace.WriteCSV(f, recs); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d trace records to %s\n", len(recs), *out)
	return nil
}

func runTraceLookup(args []string) error {
	fs := newFlags("trace lookup", "CODE [--dsn DSN | --dsn-from /var/lib/ccd/ccd.yaml | --url URL]\n\n"+
		"Looks the code up where ccd does (trace.source of the configuration),\n"+
		"in PostgreSQL with --dsn, or on an external platform with --url.")
	where := addCatalogFlags(fs)
	platform := fs.String("url", "", "external traceability platform `URL` (GET URL/codes/CODE)")
	timeout := fs.Duration("timeout", trace.DefaultHTTPTimeout, "lookup timeout with --url")
	pos, err := parseFlagsArgs(fs, args, "CODE")
	if err != nil {
		return err
	}
	var (
		lookup trace.Lookup
		rules  = trace.DefaultCodeRules
	)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if *platform == "" {
		dsn, r, cfg, err := where.resolve()
		if err != nil {
			return err
		}
		rules = r
		if cfg != nil && cfg.Trace.Source == "http" {
			*platform, *timeout = cfg.Trace.URL, cfg.Trace.Timeout
		} else {
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				return err
			}
			defer pool.Close()
			lookup = trace.NewPGCatalog(pool, rules)
		}
	}
	if *platform != "" {
		if lookup, err = trace.NewHTTPClient(*platform, trace.WithTimeout(*timeout)); err != nil {
			return err
		}
	}
	code, err := rules.Validate(pos[0])
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	rec, err := lookup.Lookup(ctx, code)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		return err
	}
	now := time.Now()
	for _, lang := range []string{"zh", "en"} {
		vars := trace.Vars(rec, lang, now)
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(stdout, "\nread-out (%s):\n", lang)
		for _, k := range keys {
			fmt.Fprintf(stdout, "  %-24s %s\n", k, vars[k])
		}
	}
	return nil
}

func runTraceCheck(args []string) error {
	fs := newFlags("trace check", "CODE [--min 13] [--max 20] [--check-digit=true]\n\n"+
		"Exits 0 if the code is well-formed, 1 (saying why) if not.")
	minLen := fs.Int("min", trace.DefaultCodeRules.MinLen, "fewest digits")
	maxLen := fs.Int("max", trace.DefaultCodeRules.MaxLen, "most digits")
	check := fs.Bool("check-digit", trace.DefaultCodeRules.CheckDigit, "the last digit is a GS1 mod-10 check digit")
	pos, err := parseFlagsArgs(fs, args, "CODE")
	if err != nil {
		return err
	}
	code, err := trace.CodeRules{MinLen: *minLen, MaxLen: *maxLen, CheckDigit: *check}.Validate(pos[0])
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "%s: valid\n", code)
	return nil
}
