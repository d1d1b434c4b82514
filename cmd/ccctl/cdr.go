package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/internal/config"
)

// runCDR is `ccctl cdr`: the latest call detail records.
func runCDR(args []string) error {
	fs := newFlags("cdr", "[--caller NUMBER] [--since 24h] [-n 20]")
	cfgPath := fs.String("dsn-from", "/var/lib/ccd/ccd.yaml", "ccd configuration to take the PostgreSQL DSN from")
	dsn := fs.String("dsn", "", "PostgreSQL DSN (overrides --dsn-from)")
	caller := fs.String("caller", "", "only calls from this number")
	since := fs.Duration("since", 24*time.Hour, "how far back")
	limit := fs.Int("n", 20, "how many records")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		cfg, err := config.Load(*cfgPath, nil)
		if err != nil {
			return err
		}
		*dsn = cfg.Postgres.DSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	recs, err := cdr.New(pool).List(ctx, cdr.Query{From: time.Now().Add(-*since), Caller: *caller, Limit: *limit})
	if err != nil {
		return fmt.Errorf("read call records: %w", err)
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STARTED\tCALLER\tDID\tANSWERED\tDURATION\tDIGITS\tOUTCOME\tHANGUP\tCALL ID")
	for _, r := range recs {
		ans, dur := "-", "-"
		if r.AnsweredAt != nil {
			ans = r.AnsweredAt.Local().Format("15:04:05")
		}
		if r.EndedAt != nil {
			dur = r.EndedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
		}
		hup := r.HangupBy
		if r.HangupCauseText != "" {
			hup += " (" + r.HangupCauseText + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.StartedAt.Local().Format("2006-01-02 15:04:05"),
			r.CallerNumber, r.DID, ans, dur, r.Digits, r.Outcome, hup, r.CallID)
	}
	return w.Flush()
}
