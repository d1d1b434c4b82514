package db_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
)

func TestMigrationsOrdered(t *testing.T) {
	migs, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migs {
		if i > 0 && m.Version <= migs[i-1].Version {
			t.Errorf("migration %d (%s) after %d", m.Version, m.Name, migs[i-1].Version)
		}
		if m.SQL == "" {
			t.Errorf("migration %d (%s) is empty", m.Version, m.Name)
		}
	}
}

// TestMigrate applies every migration to an empty database, then again:
// the second run changes nothing.
func TestMigrate(t *testing.T) {
	pg := localstacktest.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, pg.DSN, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, zap.NewNop()); err != nil {
		t.Fatalf("second run: %v", err)
	}
	migs, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(migs) {
		t.Fatalf("%d migrations recorded, want %d", applied, len(migs))
	}
	// Tables and seeds of the ACD migration.
	for _, tt := range []struct {
		name, query string
		want        int
	}{
		{"pause reasons seeded", `SELECT count(*) FROM acd_pause_reasons`, 6},
		{"productive pause reasons", `SELECT count(*) FROM acd_pause_reasons WHERE productive`, 3},
		{"automatic pause reason", `SELECT count(*) FROM acd_pause_reasons WHERE automatic AND code = 'missed_offers'`, 1},
		{"acd tables", `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_name IN ('acd_queues', 'acd_agents', 'acd_pause_reasons', 'acd_last_agent', 'acd_agent_states')`, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got int
			if err := pool.QueryRow(ctx, tt.query).Scan(&got); err != nil || got != tt.want {
				t.Fatalf("%d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
