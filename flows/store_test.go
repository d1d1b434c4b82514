package flows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/internal/calls"
	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/internal/localstack"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
	"github.com/ccd-platform/ccd/ivr"
)

// The store plugs straight into the call manager and the IVR engine.
var (
	_ calls.FlowSource = (*flows.Store)(nil)
	_ ivr.FlowLoader   = (*flows.Store)(nil)
)

// TestStore runs against one private PostgreSQL; each subtest gets its own
// schema, migrated from scratch.
func TestStore(t *testing.T) {
	pg := localstacktest.StartPostgres(t)
	tests := []struct {
		name string
		run  func(t *testing.T, pool *pgxpool.Pool)
	}{
		{"save and get", testSaveAndGet},
		{"malformed document stores nothing", testMalformedStoresNothing},
		{"publish and roll back", testPublishRollback},
		{"publish hook", testPublishHook},
		{"goto_flow targets", testGotoFlowTargets},
		{"bind and resolve", testBindResolve},
		{"concurrent publishes", testConcurrentPublishes},
		{"concurrent drafts", testConcurrentDrafts},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, schemaPool(t, pg, fmt.Sprintf("t%d", i)))
		})
	}
}

func schemaPool(t *testing.T, pg *localstack.Postgres, schema string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := db.Open(ctx, pg.DSN+"&search_path="+schema, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// The sample hotline queues callers in "trace".
	if _, err := pool.Exec(ctx, `INSERT INTO acd_queues (id, config) VALUES ('trace', '{"id":"trace"}')`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// flowSource is a small valid flow whose goodbye says text.
func flowSource(name, text string) []byte {
	return []byte(fmt.Sprintf(`name: %s
languages: [zh, en]
default_language: zh
start: bye
nodes:
  bye:
    type: hangup
    prompt: {text: {zh: "%s", en: "%s"}}
`, name, text, text))
}

func mustSave(t *testing.T, s *flows.Store, name string, src []byte) flows.Version {
	t.Helper()
	v, err := s.SaveDraft(ctx(t), name, src, "alice")
	if err != nil {
		t.Fatalf("save %s: %v", name, err)
	}
	return v
}

func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx(t), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testSaveAndGet(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	v1, err := s.SaveDraft(c, "hotline", flows.SampleHotline(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if v1.Name != "hotline" || v1.Number != 1 || v1.State != flows.StateDraft || v1.CreatedBy != "alice" || v1.CreatedAt.IsZero() {
		t.Errorf("v1 = %+v", v1)
	}
	if v1.Source != string(flows.SampleHotline()) || v1.Doc == nil || v1.Doc.Nodes["lookup"].FoundNext != "readout" {
		t.Error("v1 lacks its source or document")
	}
	v2 := mustSave(t, s, "hotline", flows.SampleHotline())
	if v2.Number != 2 {
		t.Errorf("second draft is version %d", v2.Number)
	}
	got, err := s.Get(c, "hotline", 1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := flows.Parse(flows.SampleHotline())
	a, _ := flows.Marshal(got.Doc)
	b, _ := flows.Marshal(want)
	if string(a) != string(b) || got.Source != v1.Source {
		t.Error("stored document differs from the parsed source")
	}
	if _, err := s.Get(c, "hotline", 3); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("missing version: %v", err)
	}
	if _, err := s.Published(c, "hotline"); !errors.Is(err, flows.ErrNotPublished) {
		t.Errorf("unpublished flow: %v", err)
	}
	if _, err := s.Published(c, "nope"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("missing flow: %v", err)
	}
	vs, err := s.Versions(c, "hotline")
	if err != nil || len(vs) != 2 || vs[0].Number != 2 || vs[1].Number != 1 || vs[0].Doc != nil {
		t.Errorf("versions: %+v, %v", vs, err)
	}
	if _, err := s.Versions(c, "nope"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("versions of a missing flow: %v", err)
	}
	mustSave(t, s, "complaints", flowSource("complaints", "再见"))
	list, err := s.List(c)
	if err != nil || len(list) != 2 || list[0].Name != "complaints" || list[1].Name != "hotline" || list[1].Latest != 2 || list[1].Published != 0 {
		t.Errorf("list: %+v, %v", list, err)
	}
}

func testMalformedStoresNothing(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	tests := []struct {
		name, flow, src, path string
	}{
		{"syntax", "hotline", "name: [hotline\n", ""},
		{"unknown field", "hotline", strings.Replace(string(flows.SampleHotline()), "    options:\n      \"1\": code", "    optoins:\n      \"1\": code", 1), "nodes.main.optoins"},
		{"invalid flow", "hotline", strings.Replace(string(flows.SampleHotline()), "next: after_readout", "next: nowhere", 1), "nodes.readout.next"},
		{"name differs", "other", string(flows.SampleHotline()), "name"},
		{"bad flow name", "Hot Line", string(flows.SampleHotline()), "name"},
		{"goto an unknown flow", "hotline", string(flowSource("hotline", "x")) + "  more: {type: goto_flow, flow: nope}\n", "nodes.more.flow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SaveDraft(c, tt.flow, []byte(tt.src), "alice")
			var ve *flows.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, flows.ErrInvalid) {
				t.Fatalf("got %v, want a ValidationError", err)
			}
			found := false
			for _, p := range ve.Problems {
				found = found || p.Path == tt.path
			}
			if !found {
				t.Errorf("no problem at %q: %v", tt.path, err)
			}
		})
	}
	if _, err := s.SaveDraft(c, "hotline", flows.SampleHotline(), " "); !errors.Is(err, flows.ErrInvalid) {
		t.Errorf("no author: %v", err)
	}
	for _, table := range []string{"flows", "flow_versions"} {
		if n := count(t, pool, table); n != 0 {
			t.Errorf("%s has %d rows after refused drafts", table, n)
		}
	}
}

func testPublishRollback(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	for i := 1; i <= 3; i++ {
		mustSave(t, s, "greet", flowSource("greet", fmt.Sprintf("v%d", i)))
	}
	if _, err := s.Rollback(c, "greet", "bob"); !errors.Is(err, flows.ErrNotPublished) {
		t.Errorf("roll back an unpublished flow: %v", err)
	}
	published := func(want int) {
		t.Helper()
		v, err := s.Published(c, "greet")
		if err != nil || v.Number != want || v.State != flows.StatePublished {
			t.Fatalf("published = %d (%v), want %d", v.Number, err, want)
		}
		if got := v.Doc.Nodes["bye"].Prompt.Text["en"]; got != fmt.Sprintf("v%d", want) {
			t.Fatalf("published document says %q", got)
		}
		var n int
		if err := pool.QueryRow(c, `SELECT count(*) FROM flow_versions WHERE flow = 'greet' AND state = 'published'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d published versions (%v)", n, err)
		}
	}
	for _, n := range []int{1, 2, 3} {
		if err := s.Publish(c, "greet", n, "bob"); err != nil {
			t.Fatal(err)
		}
		published(n)
	}
	if err := s.Publish(c, "greet", 3, "bob"); err != nil {
		t.Errorf("publish the published version again: %v", err)
	}
	v1, _ := s.Get(c, "greet", 1)
	if v1.State != flows.StateArchived || v1.PublishedBy != "bob" || v1.PublishedAt.IsZero() {
		t.Errorf("v1 after v2 and v3: %+v", v1)
	}
	// Roll-backs walk down the publications: 3 → 2 → 1, then nothing earlier.
	for _, want := range []int{2, 1} {
		v, err := s.Rollback(c, "greet", "carol")
		if err != nil || v.Number != want || v.State != flows.StatePublished || v.PublishedBy != "carol" {
			t.Fatalf("roll back: %+v, %v; want version %d", v, err, want)
		}
		published(want)
	}
	if _, err := s.Rollback(c, "greet", "carol"); !errors.Is(err, flows.ErrNotPublished) {
		t.Errorf("roll back past the first publication: %v", err)
	}
	published(1)
	// Publishing again starts a new history on top: 1, 3 → roll back → 1.
	if err := s.Publish(c, "greet", 3, "bob"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Rollback(c, "greet", "carol"); err != nil || v.Number != 1 {
		t.Errorf("roll back after a re-publish: %+v, %v", v, err)
	}
	if err := s.Publish(c, "greet", 9, "bob"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("publish a missing version: %v", err)
	}
	if err := s.Publish(c, "nope", 1, "bob"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("publish a missing flow: %v", err)
	}
	list, err := s.List(c)
	if err != nil || len(list) != 1 || list[0].Published != 1 || list[0].Latest != 3 || list[0].PublishedAt.IsZero() {
		t.Errorf("list: %+v, %v", list, err)
	}
	doc, err := s.LoadFlow(c, "greet")
	if err != nil || doc.Nodes["bye"].Prompt.Text["en"] != "v1" {
		t.Errorf("LoadFlow: %v", err)
	}
}

func testPublishHook(t *testing.T, pool *pgxpool.Pool) {
	var mu sync.Mutex
	var seen []string
	fail := true
	hook := func(_ context.Context, doc *flows.Doc) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, doc.Nodes["bye"].Prompt.Text["en"])
		if fail {
			return errors.New("speech engine down")
		}
		return nil
	}
	s := flows.NewStore(pool, flows.WithOnPublish(hook))
	c := ctx(t)
	mustSave(t, s, "greet", flowSource("greet", "one"))
	mustSave(t, s, "greet", flowSource("greet", "two"))
	err := s.Publish(c, "greet", 1, "bob")
	if err == nil || !strings.Contains(err.Error(), "speech engine down") {
		t.Fatalf("publish with a failing hook: %v", err)
	}
	if _, err := s.Published(c, "greet"); !errors.Is(err, flows.ErrNotPublished) {
		t.Errorf("a failed hook still published: %v", err)
	}
	if n := count(t, pool, "flow_publications"); n != 0 {
		t.Errorf("%d publications recorded", n)
	}
	fail = false
	if err := s.Publish(c, "greet", 1, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(c, "greet", 2, "bob"); err != nil {
		t.Fatal(err)
	}
	fail = true
	if _, err := s.Rollback(c, "greet", "bob"); err == nil {
		t.Error("roll back with a failing hook succeeded")
	}
	if v, _ := s.Published(c, "greet"); v.Number != 2 {
		t.Errorf("a failed roll-back changed the published version to %d", v.Number)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "one,one,two,one" {
		t.Errorf("hook saw %v", seen)
	}
}

func testGotoFlowTargets(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	mustSave(t, s, "complaints", flowSource("complaints", "x"))
	src := []byte(`name: main
languages: [zh]
default_language: zh
start: more
nodes:
  more: {type: goto_flow, flow: complaints}
`)
	// The draft may name a flow that exists; publishing needs it published.
	v := mustSave(t, s, "main", src)
	err := s.Publish(c, "main", v.Number, "bob")
	var ve *flows.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `nodes.more.flow: flow "complaints" does not exist`) {
		t.Fatalf("publish before its goto target: %v", err)
	}
	if err := s.Publish(c, "complaints", 1, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(c, "main", v.Number, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(c, "", src); err != nil {
		t.Errorf("check: %v", err)
	}
}

func testBindResolve(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	mustSave(t, s, "hotline", flows.SampleHotline())
	mustSave(t, s, "fallback", flowSource("fallback", "x"))
	if _, err := s.ResolveDID(c, "4006001000"); !errors.Is(err, flows.ErrNoBinding) {
		t.Errorf("resolve without bindings: %v", err)
	}
	if err := s.BindDID(c, "4006001000", "hotline", "alice"); !errors.Is(err, flows.ErrNotPublished) {
		t.Errorf("bind an unpublished flow: %v", err)
	}
	if err := s.BindDID(c, "4006001000", "nope", "alice"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("bind a missing flow: %v", err)
	}
	if err := s.BindDID(c, "400 600", "hotline", "alice"); !errors.Is(err, flows.ErrInvalid) {
		t.Errorf("bind a malformed DID: %v", err)
	}
	for _, f := range []string{"hotline", "fallback"} {
		if err := s.Publish(c, f, 1, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BindDID(c, "4006001000", "hotline", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.BindDID(c, flows.DefaultDID, "fallback", "alice"); err != nil {
		t.Fatal(err)
	}
	resolve := func(did flows.DID, flow string, version int) {
		t.Helper()
		v, err := s.ResolveDID(c, did)
		if err != nil || v.Name != flow || v.Number != version || v.Doc == nil || v.Doc.Name != flow {
			t.Fatalf("resolve %s: %s v%d (%v), want %s v%d", did, v.Name, v.Number, err, flow, version)
		}
	}
	resolve("4006001000", "hotline", 1)
	resolve("4006002000", "fallback", 1)
	// A call pins the version it resolved; a new publication serves the next calls.
	pinned, _ := s.ResolveDID(c, "4006001000")
	mustSave(t, s, "hotline", flows.SampleHotline())
	if err := s.Publish(c, "hotline", 2, "alice"); err != nil {
		t.Fatal(err)
	}
	resolve("4006001000", "hotline", 2)
	if pinned.Number != 1 || pinned.Doc.Nodes["main"] == nil {
		t.Error("the pinned version changed")
	}
	doc, version, err := s.ResolveFlow(c, "4006001000")
	if err != nil || version != 2 || doc.Name != "hotline" {
		t.Errorf("ResolveFlow: %v %d %v", doc, version, err)
	}
	// Re-binding moves the DID; the log keeps who did what.
	if err := s.BindDID(c, "4006001000", "fallback", "bob"); err != nil {
		t.Fatal(err)
	}
	resolve("4006001000", "fallback", 1)
	bs, err := s.Bindings(c)
	if err != nil || len(bs) != 2 || bs[0].DID != "*" || bs[1].DID != "4006001000" || bs[1].Flow != "fallback" || bs[1].UpdatedBy != "bob" {
		t.Errorf("bindings: %+v, %v", bs, err)
	}
	if err := s.UnbindDID(c, "4006001000", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.UnbindDID(c, "4006001000", "bob"); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("unbind twice: %v", err)
	}
	resolve("4006001000", "fallback", 1) // the default
	if err := s.UnbindDID(c, flows.DefaultDID, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveDID(c, "4006001000"); !errors.Is(err, flows.ErrNoBinding) {
		t.Errorf("resolve after unbinding all: %v", err)
	}
	if n := count(t, pool, "did_binding_log"); n != 5 {
		t.Errorf("binding log has %d entries, want 5", n)
	}
}

func testConcurrentPublishes(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	c := ctx(t)
	const n = 8
	for i := 1; i <= n; i++ {
		mustSave(t, s, "busy", flowSource("busy", fmt.Sprintf("v%d", i)))
	}
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 1; i <= n; i++ {
			wg.Go(func() {
				<-start
				errs <- s.Publish(c, "busy", i, fmt.Sprintf("admin%d", i))
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		var published int
		if err := pool.QueryRow(c, `SELECT count(*) FROM flow_versions WHERE flow = 'busy' AND state = 'published'`).Scan(&published); err != nil {
			t.Fatal(err)
		}
		if published != 1 {
			t.Fatalf("round %d: %d published versions", round, published)
		}
		// The published version is the top of the publication history.
		v, err := s.Published(c, "busy")
		if err != nil {
			t.Fatal(err)
		}
		var top int
		if err := pool.QueryRow(c, `SELECT version FROM flow_publications WHERE flow = 'busy' AND undone_at IS NULL ORDER BY id DESC LIMIT 1`).Scan(&top); err != nil {
			t.Fatal(err)
		}
		if top != v.Number {
			t.Fatalf("round %d: published %d, top of the history %d", round, v.Number, top)
		}
	}
}

func testConcurrentDrafts(t *testing.T, pool *pgxpool.Pool) {
	s := flows.NewStore(pool)
	const n = 10
	var wg sync.WaitGroup
	numbers := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			v, err := s.SaveDraft(context.Background(), "fresh", flowSource("fresh", fmt.Sprint(i)), "alice")
			if err != nil {
				t.Error(err)
				return
			}
			numbers <- v.Number
		})
	}
	wg.Wait()
	close(numbers)
	seen := map[int]bool{}
	for num := range numbers {
		if seen[num] || num < 1 || num > n {
			t.Errorf("version number %d given twice or out of range", num)
		}
		seen[num] = true
	}
	if len(seen) != n {
		t.Errorf("%d versions saved, want %d", len(seen), n)
	}
}
