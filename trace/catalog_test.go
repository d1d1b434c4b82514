package trace_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
	"github.com/ccd-platform/ccd/trace"
)

// startDB starts a private PostgreSQL with ccd's schema.
func startDB(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pg := localstacktest.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, pg.DSN, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, pg.DSN
}

// snapshot is the whole table as text, to compare before and after.
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(),
		`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY code)), '') FROM trace_records t`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withoutUpdatedAt(r *trace.Record) trace.Record {
	c := *r
	c.UpdatedAt = time.Time{}
	return c
}

func TestPGCatalog(t *testing.T) {
	pool, _ := startDB(t)
	ctx := context.Background()
	cat := trace.NewPGCatalog(pool)
	recs := trace.Generate(300, 11)
	file := sampleCSV(t, 300, 11)

	t.Run("not found", func(t *testing.T) {
		if r, err := cat.Lookup(ctx, trace.SampleCode); !errors.Is(err, trace.ErrNotFound) || r != nil {
			t.Fatalf("%v, %v", r, err)
		}
	})

	t.Run("import", func(t *testing.T) {
		n, err := trace.Import(ctx, pool, bytes.NewReader(file))
		if err != nil || n != len(recs) {
			t.Fatalf("imported %d, %v", n, err)
		}
		for i := range recs {
			got, err := cat.Lookup(ctx, recs[i].Code)
			if err != nil {
				t.Fatal(err)
			}
			if got.UpdatedAt.IsZero() || !reflect.DeepEqual(withoutUpdatedAt(got), recs[i]) {
				t.Fatalf("record %d:\n got %+v\nwant %+v", i, *got, recs[i])
			}
		}
	})

	t.Run("re-import updates", func(t *testing.T) {
		before, _ := cat.Lookup(ctx, trace.SampleCode)
		edited := editLine(t, file, 2, "product_en", "chilled pork belly, skin on")
		edited = editLine(t, edited, 2, "packed_on", "")
		n, err := cat.Import(ctx, bytes.NewReader(edited))
		if err != nil || n != len(recs) {
			t.Fatalf("imported %d, %v", n, err)
		}
		after, err := cat.Lookup(ctx, trace.SampleCode)
		if err != nil || after.Product.EN != "chilled pork belly, skin on" || !after.PackedOn.IsZero() || !after.UpdatedAt.After(before.UpdatedAt) {
			t.Fatalf("after re-import: %+v, %v", after, err)
		}
		var count int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM trace_records`).Scan(&count); err != nil || count != len(recs) {
			t.Fatalf("%d rows, %v", count, err)
		}
	})

	t.Run("bad file leaves the table unchanged", func(t *testing.T) {
		before := snapshot(t, pool)
		more := sampleCSV(t, 400, 12) // 399 new codes, then the sample again
		for _, tt := range []struct {
			name, col, value, want string
		}{
			{"late bad date", "inspection_date", "2026-13-01", `line 390, field inspection_date: "2026-13-01" is not a date YYYY-MM-DD`},
			{"bad check digit", "code", "6901234567893", `line 390, field code: "6901234567893": trace code check digit is wrong: ends in 3, expected 2`},
			{"unknown category", "category", "seafood", `line 390, field category: unknown category "seafood" (known: meat, vegetable)`},
			{"missing required", "origin_name_zh", "", `line 390, field origin_name_zh: missing (required)`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				n, err := trace.Import(ctx, pool, bytes.NewReader(editLine(t, more, 390, tt.col, tt.value)))
				if err == nil || err.Error() != tt.want || n != 0 {
					t.Fatalf("imported %d, %v\nwant %s", n, err, tt.want)
				}
				if after := snapshot(t, pool); after != before {
					t.Fatalf("table changed: %s -> %s", before, after)
				}
			})
		}
		n, err := trace.Import(ctx, pool, strings.NewReader("code,colour\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "line 1, field colour: unknown column") || n != 0 {
			t.Fatalf("imported %d, %v", n, err)
		}
		if after := snapshot(t, pool); after != before {
			t.Fatalf("table changed: %s -> %s", before, after)
		}
	})

	t.Run("upsert", func(t *testing.T) {
		before := snapshot(t, pool)
		a, b := trace.Sample(), trace.Sample()
		a.Code, b.Code = trace.Complete("690999000001"), trace.Complete("690999000002")
		b.Category = "fish"
		err := cat.Upsert(ctx, a, b)
		if err == nil || !strings.Contains(err.Error(), `record 2 (code "6909990000028"): field category: unknown category "fish"`) ||
			!errors.Is(err, trace.ErrInvalidRecord) {
			t.Fatalf("upsert: %v", err)
		}
		if snapshot(t, pool) != before {
			t.Fatal("a failed upsert changed the table")
		}
		b.Category = trace.Vegetable
		b.Origin.Kind, b.Processor, b.Quantity, b.Unit = trace.PlantingBase, trace.Processor{}, 0, ""
		if err := cat.Upsert(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		got, err := cat.Lookup(ctx, b.Code)
		if err != nil || !reflect.DeepEqual(withoutUpdatedAt(got), b) {
			t.Fatalf("got %+v, %v", got, err)
		}
		if err := cat.Upsert(ctx, a, a); err == nil || !strings.Contains(err.Error(), "is also record 1") {
			t.Fatalf("duplicate: %v", err)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := cat.Lookup(cctx, trace.SampleCode); !errors.Is(err, trace.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		closed, err := pgxpool.New(ctx, pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		if _, err := trace.NewPGCatalog(closed).Lookup(ctx, trace.SampleCode); !errors.Is(err, trace.ErrUnavailable) {
			t.Fatalf("closed pool: %v", err)
		}
	})
}

func TestPGCatalogCodeRules(t *testing.T) {
	pool, _ := startDB(t)
	r := trace.Sample()
	r.Code = "12345678"
	if err := trace.NewPGCatalog(pool).Upsert(context.Background(), r); !errors.Is(err, trace.ErrCodeLength) {
		t.Fatalf("default rules: %v", err)
	}
	if err := trace.NewPGCatalog(pool, trace.CodeRules{MinLen: 8, MaxLen: 8}).Upsert(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestImportWithoutSchema(t *testing.T) {
	pg := localstacktest.StartPostgres(t)
	pool, err := pgxpool.New(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	_, err = trace.Import(context.Background(), pool, bytes.NewReader(sampleCSV(t, 2, 1)))
	if err == nil || !strings.Contains(err.Error(), "no table trace_records yet") {
		t.Fatalf("%v", err)
	}
}
