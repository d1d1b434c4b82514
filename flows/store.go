package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// State is where a version stands.
type State string

// States of a version: saved, in service (one per flow), formerly in service.
const (
	StateDraft     State = "draft"
	StatePublished State = "published"
	StateArchived  State = "archived"
)

// DID is a dialled number a flow answers.
type DID string

// DefaultDID binds the flow that answers every DID without its own binding.
const DefaultDID DID = "*"

var didPattern = regexp.MustCompile(`^[0-9A-Za-z+_.-]{1,64}$`)

// Valid tells whether d can be bound: "*" or up to 64 of 0-9 A-Z a-z + _ . -
func (d DID) Valid() bool { return d == DefaultDID || didPattern.MatchString(string(d)) }

// Version is one saved version of a flow. A call pins the Version it
// started with.
type Version struct {
	Name        string
	Number      int
	State       State
	Doc         *Doc   // parsed; nil in the lists of Versions
	Source      string // the text as the admin wrote it; empty in the lists of Versions
	CreatedAt   time.Time
	CreatedBy   string
	PublishedAt time.Time // the latest publication; zero if never published
	PublishedBy string
}

// Flow summarises a flow.
type Flow struct {
	Name        string
	CreatedAt   time.Time
	CreatedBy   string
	Latest      int       // highest version number
	Published   int       // published version number, 0 if none
	PublishedAt time.Time // zero if none
}

// Binding ties a DID to a flow.
type Binding struct {
	DID       DID
	Flow      string
	UpdatedAt time.Time
	UpdatedBy string
}

// PublishHook runs while a version is being published (or re-published by a
// roll-back), inside the publishing transaction; an error aborts it.
type PublishHook func(ctx context.Context, doc *Doc) error

// Option configures a Store.
type Option func(*Store)

// WithOnPublish runs hook before a version goes into service (e.g. to
// render its prompts to speech ahead of the first call).
func WithOnPublish(hook PublishHook) Option { return func(s *Store) { s.onPublish = hook } }

// WithTraceVars restricts ${trace.x} to these names (e.g. "trace.product");
// see ValidateOptions.TraceVars.
func WithTraceVars(names ...string) Option {
	return func(s *Store) { s.traceVars = append([]string(nil), names...) }
}

// Store keeps flow documents in PostgreSQL with their versions, publication
// history and DID bindings (tables of migration 0002_flows).
//
// Every saved version has passed Validate: a document with problems is
// refused with a *ValidationError and nothing is stored. Publishing and
// rolling back lock the flow's row, so concurrent ones are serialised and
// exactly one version of a flow is published at any time.
type Store struct {
	pool      *pgxpool.Pool
	onPublish PublishHook
	traceVars []string
}

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool}
	for _, o := range opts {
		o(s)
	}
	return s
}

// querier is what the store's queries run on: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Check parses and validates source as it would be saved under name (""
// for the name in the document): goto_flow targets must be stored flows.
func (s *Store) Check(ctx context.Context, name string, source []byte) (*Doc, error) {
	return s.check(ctx, s.pool, name, source, false)
}

// check validates a document. With published set, goto_flow targets must
// have a published version; otherwise they must exist.
func (s *Store) check(ctx context.Context, q querier, name string, source []byte, published bool) (*Doc, error) {
	var qerr error
	opts := ValidateOptions{
		Name:      name,
		TraceVars: s.traceVars,
		FlowExists: func(flow string) bool {
			sql := `SELECT EXISTS (SELECT 1 FROM flows WHERE name = $1)`
			if published {
				sql = `SELECT EXISTS (SELECT 1 FROM flow_versions WHERE flow = $1 AND state = 'published')`
			}
			var ok bool
			if err := q.QueryRow(ctx, sql, flow).Scan(&ok); err != nil {
				qerr = fmt.Errorf("flows: look up flow %s: %w", flow, err)
				return true
			}
			return ok
		},
		QueueExists: func(id string) bool {
			var ok bool
			if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM acd_queues WHERE id = $1)`, id).Scan(&ok); err != nil {
				qerr = fmt.Errorf("flows: look up queue %s: %w", id, err)
				return true
			}
			return ok
		},
	}
	doc, err := Check(source, opts)
	if qerr != nil {
		return nil, qerr
	}
	return doc, err
}

// SaveDraft parses and validates source and stores it as the next version of
// flow name, created if new. A document with problems is refused with a
// *ValidationError (wrapping ErrInvalid) and nothing is stored.
func (s *Store) SaveDraft(ctx context.Context, name string, source []byte, author string) (Version, error) {
	if !ValidFlowName(name) {
		return Version{}, invalid("name", fmt.Sprintf("%q is not a flow name: 1 to 64 of a-z, 0-9, _ and -", name))
	}
	if err := checkAuthor(author); err != nil {
		return Version{}, err
	}
	doc, err := s.check(ctx, s.pool, name, source, false)
	if err != nil {
		return Version{}, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return Version{}, fmt.Errorf("flows: encode %s: %w", name, err)
	}
	var v Version
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO flows (name, created_by) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, author); err != nil {
			return err
		}
		if err := lockFlow(ctx, tx, name); err != nil {
			return err
		}
		row := tx.QueryRow(ctx, `
			INSERT INTO flow_versions (flow, version, source, doc, created_by)
			SELECT $1::text, COALESCE(MAX(version), 0) + 1, $2::text, $3::jsonb, $4::text
			FROM flow_versions WHERE flow = $1::text
			RETURNING `+versionCols, name, string(source), js, author)
		v, err = scanVersion(row)
		return err
	})
	if err != nil {
		return Version{}, fmt.Errorf("flows: save draft of %s: %w", name, err)
	}
	return v, nil
}

func checkAuthor(author string) error {
	if strings.TrimSpace(author) == "" {
		return fmt.Errorf("%w: the author is required", ErrInvalid)
	}
	return nil
}

const versionCols = `flow, version, state, source, doc, created_at, created_by, published_at, published_by`

func scanVersion(row pgx.Row) (Version, error) {
	var v Version
	var state string
	var doc []byte
	var publishedAt *time.Time
	if err := row.Scan(&v.Name, &v.Number, &state, &v.Source, &doc, &v.CreatedAt, &v.CreatedBy, &publishedAt, &v.PublishedBy); err != nil {
		return Version{}, err
	}
	v.State = State(state)
	if publishedAt != nil {
		v.PublishedAt = *publishedAt
	}
	v.Doc = new(Doc)
	if err := json.Unmarshal(doc, v.Doc); err != nil {
		return Version{}, fmt.Errorf("decode stored document %s v%d: %w", v.Name, v.Number, err)
	}
	return v, nil
}

// lockFlow takes the flow's row lock for the transaction, or ErrNotFound.
func lockFlow(ctx context.Context, tx pgx.Tx, name string) error {
	var got string
	err := tx.QueryRow(ctx, `SELECT name FROM flows WHERE name = $1 FOR UPDATE`, name).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: flow %s", ErrNotFound, name)
	}
	return err
}

// Get returns version number of flow name.
func (s *Store) Get(ctx context.Context, name string, number int) (Version, error) {
	return getVersion(ctx, s.pool, name, number)
}

func getVersion(ctx context.Context, q querier, name string, number int) (Version, error) {
	v, err := scanVersion(q.QueryRow(ctx, `SELECT `+versionCols+` FROM flow_versions WHERE flow = $1 AND version = $2`, name, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fmt.Errorf("%w: flow %s version %d", ErrNotFound, name, number)
	}
	if err != nil {
		return Version{}, fmt.Errorf("flows: get %s v%d: %w", name, number, err)
	}
	return v, nil
}

// Published returns the version of flow name in service: ErrNotFound if
// there is no such flow, ErrNotPublished if none of its versions is published.
func (s *Store) Published(ctx context.Context, name string) (Version, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT `+versionCols+` FROM flow_versions WHERE flow = $1 AND state = 'published'`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, s.whyNotPublished(ctx, name)
	}
	if err != nil {
		return Version{}, fmt.Errorf("flows: published version of %s: %w", name, err)
	}
	return v, nil
}

func (s *Store) whyNotPublished(ctx context.Context, name string) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM flows WHERE name = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("flows: look up flow %s: %w", name, err)
	}
	if !exists {
		return fmt.Errorf("%w: flow %s", ErrNotFound, name)
	}
	return fmt.Errorf("%w: flow %s has no published version", ErrNotPublished, name)
}

// LoadFlow returns the published document of flow name (for goto_flow).
func (s *Store) LoadFlow(ctx context.Context, name string) (*Doc, error) {
	v, err := s.Published(ctx, name)
	if err != nil {
		return nil, err
	}
	return v.Doc, nil
}

// List returns every flow, by name.
func (s *Store) List(ctx context.Context) ([]Flow, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT f.name, f.created_at, f.created_by,
		       COALESCE((SELECT MAX(version) FROM flow_versions v WHERE v.flow = f.name), 0),
		       p.version, p.published_at
		FROM flows f
		LEFT JOIN flow_versions p ON p.flow = f.name AND p.state = 'published'
		ORDER BY f.name`)
	if err != nil {
		return nil, fmt.Errorf("flows: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Flow, error) {
		var f Flow
		var published *int
		var publishedAt *time.Time
		if err := row.Scan(&f.Name, &f.CreatedAt, &f.CreatedBy, &f.Latest, &published, &publishedAt); err != nil {
			return Flow{}, err
		}
		if published != nil {
			f.Published = *published
		}
		if publishedAt != nil {
			f.PublishedAt = *publishedAt
		}
		return f, nil
	})
	if err != nil {
		return nil, fmt.Errorf("flows: list: %w", err)
	}
	return out, nil
}

// Versions lists the versions of flow name, newest first, without their
// documents (Get has them).
func (s *Store) Versions(ctx context.Context, name string) ([]Version, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT flow, version, state, created_at, created_by, published_at, published_by
		FROM flow_versions WHERE flow = $1 ORDER BY version DESC`, name)
	if err != nil {
		return nil, fmt.Errorf("flows: versions of %s: %w", name, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Version, error) {
		var v Version
		var state string
		var publishedAt *time.Time
		if err := row.Scan(&v.Name, &v.Number, &state, &v.CreatedAt, &v.CreatedBy, &publishedAt, &v.PublishedBy); err != nil {
			return Version{}, err
		}
		v.State = State(state)
		if publishedAt != nil {
			v.PublishedAt = *publishedAt
		}
		return v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("flows: versions of %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: flow %s", ErrNotFound, name)
	}
	return out, nil
}

// Publish puts version number of flow name into service: it validates it
// again (goto_flow targets must now be published), runs the publish hook,
// archives the version in service and publishes this one, all in one
// transaction. Publishing the version already in service does nothing.
func (s *Store) Publish(ctx context.Context, name string, number int, author string) error {
	if err := checkAuthor(author); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFlow(ctx, tx, name); err != nil {
			return err
		}
		v, err := getVersion(ctx, tx, name, number)
		if err != nil {
			return err
		}
		if v.State == StatePublished {
			return nil
		}
		if err := s.putInService(ctx, tx, v, author); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO flow_publications (flow, version, published_by) VALUES ($1, $2, $3)`, name, number, author)
		return err
	})
	if err != nil {
		return fmt.Errorf("flows: publish %s v%d: %w", name, number, err)
	}
	return nil
}

// putInService validates v, runs the hook and makes v the published
// version. The caller holds the flow's lock.
func (s *Store) putInService(ctx context.Context, tx pgx.Tx, v Version, author string) error {
	doc, err := s.check(ctx, tx, v.Name, []byte(v.Source), true)
	if err != nil {
		return err
	}
	if s.onPublish != nil {
		if err := s.onPublish(ctx, doc); err != nil {
			return fmt.Errorf("publish hook: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE flow_versions SET state = 'archived' WHERE flow = $1 AND state = 'published'`, v.Name); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE flow_versions SET state = 'published', published_at = now(), published_by = $3
		WHERE flow = $1 AND version = $2`, v.Name, v.Number, author)
	return err
}

// Rollback takes the version in service of flow name out and re-publishes
// the one published before it (validated again, through the publish hook).
// Rolling back again goes one publication further back. ErrNotPublished
// when the flow is not published or has no earlier publication.
func (s *Store) Rollback(ctx context.Context, name, author string) (Version, error) {
	if err := checkAuthor(author); err != nil {
		return Version{}, err
	}
	var out Version
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFlow(ctx, tx, name); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, version FROM flow_publications
			WHERE flow = $1 AND undone_at IS NULL ORDER BY id DESC LIMIT 2`, name)
		if err != nil {
			return err
		}
		type pub struct {
			id      int64
			version int
		}
		pubs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pub, error) {
			var p pub
			return p, row.Scan(&p.id, &p.version)
		})
		if err != nil {
			return err
		}
		switch len(pubs) {
		case 0:
			return fmt.Errorf("%w: flow %s has no published version", ErrNotPublished, name)
		case 1:
			return fmt.Errorf("%w: flow %s has no earlier published version to return to", ErrNotPublished, name)
		}
		prev, err := getVersion(ctx, tx, name, pubs[1].version)
		if err != nil {
			return err
		}
		if err := s.putInService(ctx, tx, prev, author); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE flow_publications SET undone_at = now(), undone_by = $2 WHERE id = $1`, pubs[0].id, author); err != nil {
			return err
		}
		out, err = getVersion(ctx, tx, name, prev.Number)
		return err
	})
	if err != nil {
		return Version{}, fmt.Errorf("flows: roll back %s: %w", name, err)
	}
	return out, nil
}

// BindDID makes flow answer calls to did ("*": every DID without its own
// binding). The flow must be published.
func (s *Store) BindDID(ctx context.Context, did DID, flow, author string) error {
	if !did.Valid() {
		return fmt.Errorf("%w: %q is not a DID (digits, letters, + _ . -, or * for the default)", ErrInvalid, did)
	}
	if err := checkAuthor(author); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var exists, published bool
		err := tx.QueryRow(ctx, `SELECT true, EXISTS (SELECT 1 FROM flow_versions WHERE flow = $1 AND state = 'published')
			FROM flows WHERE name = $1 FOR SHARE`, flow).Scan(&exists, &published)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: flow %s", ErrNotFound, flow)
		case err != nil:
			return err
		case !published:
			return fmt.Errorf("%w: flow %s has no published version", ErrNotPublished, flow)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO did_bindings (did, flow, updated_by) VALUES ($1, $2, $3)
			ON CONFLICT (did) DO UPDATE SET flow = EXCLUDED.flow, updated_at = now(), updated_by = EXCLUDED.updated_by`,
			string(did), flow, author); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO did_binding_log (did, flow, changed_by) VALUES ($1, $2, $3)`, string(did), flow, author)
		return err
	})
	if err != nil {
		return fmt.Errorf("flows: bind %s to %s: %w", did, flow, err)
	}
	return nil
}

// UnbindDID removes did's binding; ErrNotFound if it has none.
func (s *Store) UnbindDID(ctx context.Context, did DID, author string) error {
	if err := checkAuthor(author); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM did_bindings WHERE did = $1`, string(did))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: no binding for DID %s", ErrNotFound, did)
		}
		_, err = tx.Exec(ctx, `INSERT INTO did_binding_log (did, flow, changed_by) VALUES ($1, NULL, $2)`, string(did), author)
		return err
	})
	if err != nil {
		return fmt.Errorf("flows: unbind %s: %w", did, err)
	}
	return nil
}

// Bindings lists the DID bindings, by DID.
func (s *Store) Bindings(ctx context.Context) ([]Binding, error) {
	rows, err := s.pool.Query(ctx, `SELECT did, flow, updated_at, updated_by FROM did_bindings ORDER BY did`)
	if err != nil {
		return nil, fmt.Errorf("flows: bindings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Binding, error) {
		var b Binding
		var did string
		err := row.Scan(&did, &b.Flow, &b.UpdatedAt, &b.UpdatedBy)
		b.DID = DID(did)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("flows: bindings: %w", err)
	}
	return out, nil
}

// ResolveDID returns the published version of the flow bound to did, or to
// the default binding "*" when did has none of its own. ErrNoBinding when
// neither exists; ErrNotPublished if the bound flow has no published version
// (BindDID refuses such flows and a roll-back always leaves one, so only a
// hand-edited database gets there).
func (s *Store) ResolveDID(ctx context.Context, did DID) (Version, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `
		SELECT `+prefixed("v.", versionCols)+`
		FROM did_bindings b JOIN flow_versions v ON v.flow = b.flow AND v.state = 'published'
		WHERE b.did = $1 OR (b.did = '*' AND NOT EXISTS (SELECT 1 FROM did_bindings WHERE did = $1))`, string(did)))
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fmt.Errorf("flows: resolve DID %s: %w", did, err)
	}
	var flow string
	err = s.pool.QueryRow(ctx, `SELECT flow FROM did_bindings WHERE did = $1 OR did = '*' ORDER BY did = '*' LIMIT 1`, string(did)).Scan(&flow)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Version{}, fmt.Errorf("%w: %s", ErrNoBinding, did)
	case err != nil:
		return Version{}, fmt.Errorf("flows: resolve DID %s: %w", did, err)
	}
	return Version{}, fmt.Errorf("%w: flow %s (bound to DID %s)", ErrNotPublished, flow, did)
}

// ResolveFlow is ResolveDID for the call manager: the document and its
// version number.
func (s *Store) ResolveFlow(ctx context.Context, did string) (*Doc, int, error) {
	v, err := s.ResolveDID(ctx, DID(did))
	if err != nil {
		return nil, 0, err
	}
	return v.Doc, v.Number, nil
}

func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}
