package tts

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Cache keeps rendered audio on disk, one WAV file (8 kHz mono 16-bit) per
// key, <dir>/<key>.wav. The key is the SHA-256 of the engine's Name, the
// voice and the text, so a changed engine setting never serves old audio.
// Files are written to a temporary name and renamed, so a reader (the media
// handler, another process) sees a whole file or none. Concurrent Gets of
// one text render it once.
type Cache struct {
	engine Engine
	dir    string
	log    *zap.Logger
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one rendering in progress and the callers waiting for it.
type flight struct {
	done    chan struct{}
	err     error
	waiters int
	cancel  context.CancelCauseFunc
}

// CacheOption sets an optional parameter of NewCache.
type CacheOption func(*Cache)

// CacheLogger logs renderings (debug) and failures (warn) to l.
func CacheLogger(l *zap.Logger) CacheOption { return func(c *Cache) { c.log = l } }

// CacheMaxAge is how long a media client (Asterisk's media cache) may reuse
// a fetched file before revalidating it: the Cache-Control max-age of the
// media handler (default DefaultMaxAge). Zero sends "no-cache": the client
// revalidates before every play (a HEAD answered 304 Not Modified).
func CacheMaxAge(d time.Duration) CacheOption { return func(c *Cache) { c.maxAge = d } }

// DefaultMaxAge is the default Cache-Control max-age of served files. The
// audio of a key never changes, so a long one is safe.
const DefaultMaxAge = 24 * time.Hour

// keyVersion changes when the audio format of cache files changes.
const keyVersion = "ccd-tts/1"

// touchEvery: a hit refreshes the file's modification time at most this
// often; Prune removes files by it.
const touchEvery = time.Hour

// staleTemp is how old a temporary file must be before NewCache removes it
// as the leftover of a crash.
const staleTemp = 10 * time.Minute

// NewCache keeps audio rendered by engine in dir, creating dir if needed.
func NewCache(engine Engine, dir string, opts ...CacheOption) (*Cache, error) {
	if engine == nil {
		return nil, errors.New("tts: cache without an engine")
	}
	if dir == "" {
		return nil, errors.New("tts: cache without a directory")
	}
	c := &Cache{
		engine:  engine,
		dir:     dir,
		log:     zap.NewNop(),
		maxAge:  DefaultMaxAge,
		now:     time.Now,
		flights: map[string]*flight{},
	}
	for _, o := range opts {
		o(c)
	}
	if c.log == nil {
		return nil, errors.New("tts: nil logger")
	}
	if c.maxAge < 0 {
		return nil, errors.New("tts: negative max-age")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("tts: cache directory: %w", err)
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	for _, t := range temps {
		if st, err := os.Stat(t); err == nil && c.now().Sub(st.ModTime()) > staleTemp {
			_ = os.Remove(t)
		}
	}
	return c, nil
}

// key is the cache key of a checked text.
func (c *Cache) key(v Voice, text string) string {
	h := sha256.New()
	for _, f := range []string{keyVersion, c.engine.Name(), v.Lang, v.Name, text} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ValidKey reports whether s is a well-formed cache key: 64 lower-case hex digits.
func ValidKey(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path is the file of a key (which may not exist yet).
func (c *Cache) Path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return filepath.Join(c.dir, key+".wav"), nil
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+".wav") }

// Get returns the key of the audio of text spoken with voice, rendering it
// first when it is not cached. Callers asking for the same text while it
// renders wait for that one rendering. A caller whose ctx ends stops
// waiting; the rendering itself is cancelled only when no caller waits for
// it any more. Surrounding white space of text does not count.
func (c *Cache) Get(ctx context.Context, v Voice, text string) (string, error) {
	text, err := checkText(text)
	if err != nil {
		return "", err
	}
	key := c.key(v, text)
	if c.hit(key) {
		return key, nil
	}

	if ctx.Err() != nil {
		return "", fmt.Errorf("tts: %s rendering not started: %w", v, context.Cause(ctx))
	}
	c.mu.Lock()
	f, ok := c.flights[key]
	if !ok {
		// A rendering may have finished between the look and the lock.
		if c.hit(key) {
			c.mu.Unlock()
			return key, nil
		}
		// The rendering outlives the caller that started it: it keeps
		// ctx's values, not its cancellation.
		rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.flights[key] = f
		go c.render(rctx, f, key, v, text)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		return key, nil
	case <-ctx.Done():
		c.leave(key, f)
		return "", fmt.Errorf("tts: waiting for %s rendering: %w", v, context.Cause(ctx))
	}
}

// errNoWaiters cancels a rendering nobody waits for.
var errNoWaiters = errors.New("tts: every caller stopped waiting")

// leave drops a waiter; the last one cancels the rendering, and a later Get
// starts a fresh one.
func (c *Cache) leave(key string, f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 {
		f.cancel(errNoWaiters)
		if c.flights[key] == f {
			delete(c.flights, key)
		}
	}
}

func (c *Cache) render(ctx context.Context, f *flight, key string, v Voice, text string) {
	defer f.cancel(nil)
	start := c.now()
	pcm, err := c.engine.Render(ctx, v, text)
	if err == nil {
		err = c.store(key, pcm)
	}
	took := c.now().Sub(start)
	if err != nil {
		err = fmt.Errorf("tts: render %s (%d characters) with %s: %w", v, utf8.RuneCountInString(text), c.engine.Name(), err)
	}
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	f.err = err
	close(f.done)
	c.mu.Unlock()

	switch {
	case err == nil:
		c.log.Debug("tts rendered", zap.String("key", key), zap.Stringer("voice", v),
			zap.Int("chars", utf8.RuneCountInString(text)), zap.Duration("audio", pcm.Duration()), zap.Duration("took", took))
	case !errors.Is(context.Cause(ctx), errNoWaiters):
		c.log.Warn("tts rendering failed", zap.String("key", key), zap.Stringer("voice", v), zap.Error(err))
	}
}

// hit reports whether key is cached, refreshing its modification time (for
// Prune) when it is older than touchEvery.
func (c *Cache) hit(key string) bool {
	p := c.path(key)
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	if now := c.now(); now.Sub(st.ModTime()) > touchEvery {
		_ = os.Chtimes(p, now, now)
	}
	return true
}

// store writes pcm as <key>.wav through a temporary file and a rename.
func (c *Cache) store(key string, pcm audio.PCM) (err error) {
	tmp, err := os.CreateTemp(c.dir, "."+key+".*.tmp")
	if err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err := audio.WriteWAV(w, pcm); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return fmt.Errorf("tts: cache file: %w", err)
	}
	return nil
}

// Prerender renders the texts not cached yet, a few at a time, e.g. the
// static prompts of a flow when it is published, so that no caller waits for
// them. It returns every text's failure (errors.Join), each naming its text.
func (c *Cache) Prerender(ctx context.Context, v Voice, texts []string) error {
	const workers = 4
	seen := map[string]bool{}
	work := make(chan string)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for t := range work {
				if _, err := c.Get(ctx, v, t); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("prompt %q: %w", short(t), err))
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, t := range texts {
		if seen[t] {
			continue
		}
		seen[t] = true
		if ctx.Err() == nil {
			select {
			case work <- t:
				continue
			case <-ctx.Done():
			}
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("tts: prerender stopped: %w", context.Cause(ctx)))
		mu.Unlock()
		break feed
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

func short(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// Prune removes cached files not used (rendered or hit by Get) for
// olderThan, at least two hours, and returns how many it removed. Nothing
// prunes by itself: a flow's static prompts are a few hundred kilobytes,
// read-outs of trace records vary with each record, so run Prune from a
// periodic job with a horizon of days. A pruned text is rendered again by
// the next Get, before its URI is handed to Asterisk.
func (c *Cache) Prune(olderThan time.Duration) (int, error) {
	if olderThan < 2*touchEvery {
		return 0, fmt.Errorf("tts: prune horizon %s is shorter than %s", olderThan, 2*touchEvery)
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("tts: prune: %w", err)
	}
	cutoff := c.now().Add(-olderThan)
	n := 0
	var errs []error
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".wav")
		if !ok || !ValidKey(key) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
