// Package redisstore keeps the ACD's live routing state in Redis. Every
// change that must be atomic — above all reserving an agent and a call for
// each other — is one Lua script, so several dispatchers can share one
// Redis without ever offering one agent two calls or one call to two agents.
//
// A pick is decided in one of two ways. Usually in the Store's copy of the
// routing state (mirror.go), which follows a feed of every change the
// scripts make; Redis then checks each chosen pair and reserves it in one
// script, refusing a pair whose call or agent changed meanwhile. Otherwise
// inside Redis by pickScript, which chooses and reserves in one script:
// available agents are kept in sorted sets already in each strategy's
// order (per skill and overall), so it reads the first few entries of one
// index instead of ranking every agent. Both decide by the same rules. The
// layout is described in lua.go. It needs Redis 7.0 or later (SINTERCARD,
// ZINTERCARD, ZRANGE BYSCORE/BYLEX, XADD with 0-*).
package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

var (
	_ acd.Store  = (*Store)(nil)
	_ acd.Agents = (*Store)(nil)
)

// defaultRetry is a queue's RetryDelay when zero.
const defaultRetry = 10 * time.Second

// maxRank bounds agent ranks, which the rank index encodes in fixed width.
const maxRank = 999_999_999

// Store is the Redis routing state.
type Store struct {
	rdb         redis.UniversalClient
	prefix      string
	ttl         time.Duration
	lookahead   int
	mir         *mirror // the routing copy (mirror.go), nil when off
	scriptPicks atomic.Int64
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the key prefix (default "{acd}:"). Keep a hash tag in it
// on Redis Cluster.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithReservationTTL sets how long a reservation may last before Reap ends it
// (default 60s). It should exceed the longest offer (ring time).
func WithReservationTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// WithLookahead sets how many waiting calls of a queue one pick examines
// (default 16), so a call needing a busy skill does not block the calls
// behind it.
func WithLookahead(n int) Option { return func(s *Store) { s.lookahead = n } }

// New returns a Store on a Redis client (a *redis.Client or cluster client).
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	s := &Store{rdb: rdb, prefix: "{acd}:", ttl: 60 * time.Second, lookahead: 16, mir: newMirror()}
	for _, o := range opts {
		o(s)
	}
	switch {
	case rdb == nil:
		return nil, fmt.Errorf("%w: nil redis client", acd.ErrInvalid)
	case s.prefix == "":
		return nil, fmt.Errorf("%w: empty key prefix", acd.ErrInvalid)
	case s.ttl < time.Millisecond:
		return nil, fmt.Errorf("%w: reservation ttl %v", acd.ErrInvalid, s.ttl)
	case s.lookahead < 1:
		return nil, fmt.Errorf("%w: lookahead %d", acd.ErrInvalid, s.lookahead)
	}
	return s, nil
}

type redisScript struct {
	name string
	sc   *redis.Script
}

// Load loads the scripts into Redis, so the first calls need no fallback.
//
// It also checks the layout version of the keys: live state written by a
// version with another layout is removed (agents log in again, waiting
// calls of that version are gone with it), and Load reports how many keys.
func (s *Store) Load(ctx context.Context) error {
	for _, sc := range allScripts {
		if err := sc.sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("acd: load %s script: %w", sc.name, err)
		}
	}
	_, err := s.migrate(ctx)
	return err
}

// layoutVersion changes whenever the key layout changes incompatibly.
const layoutVersion = "2"

// migrate removes live state of another key layout. It returns the number
// of keys removed.
func (s *Store) migrate(ctx context.Context) (int, error) {
	vkey := s.prefix + "layout"
	v, err := s.rdb.Get(ctx, vkey).Result()
	if err == nil && v == layoutVersion {
		return 0, nil
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("acd: layout version: %w", err)
	}
	n := 0
	iter := s.rdb.Scan(ctx, 0, escapeGlob(s.prefix)+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
				return n, fmt.Errorf("acd: remove old live state: %w", err)
			}
			n += len(batch)
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return n, fmt.Errorf("acd: scan old live state: %w", err)
	}
	if len(batch) > 0 {
		if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
			return n, fmt.Errorf("acd: remove old live state: %w", err)
		}
		n += len(batch)
	}
	if err := s.rdb.Set(ctx, vkey, layoutVersion, 0).Err(); err != nil {
		return n, fmt.Errorf("acd: layout version: %w", err)
	}
	return n, nil
}

// escapeGlob quotes the glob characters of a key prefix ({acd}: has none
// that matter, but a configured prefix might).
func escapeGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) *redis.Cmd {
	return sc.Run(ctx, s.rdb, nil, append([]any{s.prefix}, args...)...)
}

// mapErr turns script error codes into the package's sentinel errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("acd: redis: %w", err)
	}
	msg, _, _ := strings.Cut(re.Error(), " script: ") // drop the script location
	f := strings.Fields(msg)
	if len(f) == 0 {
		return fmt.Errorf("acd: redis: %w", err)
	}
	rest := strings.Join(f[1:], " ")
	switch f[0] {
	case "ACDILLEGAL", "ACDRESERVED":
		base := acd.ErrIllegalTransition
		if f[0] == "ACDRESERVED" {
			base = acd.ErrReserved
		}
		if len(f) >= 4 {
			return fmt.Errorf("%w: agent %s: %s → %s", base, f[1], f[2], f[3])
		}
		return fmt.Errorf("%w: %s", base, rest)
	case "ACDTALKING":
		if len(f) >= 5 {
			return fmt.Errorf("%w: agent %s: %s → %s: call %s is connected; Finish, Requeue or Dequeue end it",
				acd.ErrIllegalTransition, f[1], f[2], f[3], f[4])
		}
		return fmt.Errorf("%w: %s", acd.ErrIllegalTransition, rest)
	case "ACDNOTFOUND":
		return fmt.Errorf("%w: %s", acd.ErrNotFound, rest)
	case "ACDNOTRESERVED":
		return fmt.Errorf("%w: %s", acd.ErrNotReserved, rest)
	case "ACDNOTTALKING":
		return fmt.Errorf("%w: not talking: %s", acd.ErrNotReserved, rest)
	case "ACDHELD":
		return fmt.Errorf("%w: %s", acd.ErrAlreadyReserved, rest)
	case "ACDQUEUED":
		return fmt.Errorf("%w: %s", acd.ErrAlreadyQueued, rest)
	case "ACDINVALID":
		return fmt.Errorf("%w: %s", acd.ErrInvalid, rest)
	case "ACDINVARIANT":
		return fmt.Errorf("%w: %s", acd.ErrInvariant, rest)
	}
	return fmt.Errorf("acd: redis: %w", err)
}

// encodeReqs renders requirements as "skill min skill min ...", sorted by
// skill, a skill asked twice with the higher minimum: equal requirements
// encode equally (the pick caches per requirement list).
func encodeReqs(rs []acd.Requirement) string {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b acd.Requirement) int {
		return cmp.Or(cmp.Compare(a.Skill, b.Skill), cmp.Compare(b.MinLevel, a.MinLevel))
	})
	rs = slices.CompactFunc(rs, func(a, b acd.Requirement) bool { return a.Skill == b.Skill })
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(r.Skill))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(r.MinLevel))
	}
	return b.String()
}

// encodeStages renders expansion stages as lines "after_µs skill min ...".
func encodeStages(st []acd.Stage) string {
	lines := make([]string, len(st))
	for i, s := range st {
		lines[i] = strconv.FormatInt(s.After.Microseconds(), 10)
		if len(s.Skills) > 0 {
			lines[i] += " " + encodeReqs(s.Skills)
		}
	}
	return strings.Join(lines, "\n")
}

// encodeSkills renders an agent's skills as "skill level ...", sorted.
func encodeSkills(sk map[acd.Skill]int) string {
	names := make([]string, 0, len(sk))
	for s := range sk {
		names = append(names, string(s))
	}
	slices.Sort(names)
	var b strings.Builder
	for i, s := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s %d", s, sk[acd.Skill(s)])
	}
	return b.String()
}

func decodeSkills(v string) map[acd.Skill]int {
	f := strings.Fields(v)
	m := make(map[acd.Skill]int, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[acd.Skill(f[i])], _ = strconv.Atoi(f[i+1])
	}
	return m
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func usTime(v string) time.Time {
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil || us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
