// Package recording keeps what callers and agents said: left messages now,
// call recordings later. Audio is fetched from Asterisk into ccd's own store
// (Asterisk may run on another host), indexed in PostgreSQL with its SHA-256
// so that tampering is evident.
package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/ivr"
)

// ErrNotFound: no such message.
var ErrNotFound = errors.New("message not found")

// Source hands over finished recordings (Asterisk over ARI).
type Source interface {
	StoredRecordingFile(ctx context.Context, name string) ([]byte, error)
	DeleteStoredRecording(ctx context.Context, name string) error
}

var _ ivr.Messages = (*Messages)(nil)

// Messages stores left messages.
type Messages struct {
	pool *pgxpool.Pool
	src  Source
	dir  string
}

// NewMessages stores audio under dir.
func NewMessages(pool *pgxpool.Pool, src Source, dir string) (*Messages, error) {
	if err := os.MkdirAll(filepath.Join(dir, "messages"), 0o750); err != nil {
		return nil, fmt.Errorf("recording store %s: %w", dir, err)
	}
	return &Messages{pool: pool, src: src, dir: dir}, nil
}

// Message is a stored message.
type Message struct {
	ID         string    `json:"id"`
	CallID     string    `json:"call_id"`
	Caller     string    `json:"caller"`
	DID        string    `json:"did"`
	Flow       string    `json:"flow"`
	Node       string    `json:"node"`
	Language   string    `json:"language"`
	RecordedAt time.Time `json:"recorded_at"`
	DurationMS int64     `json:"duration_ms"`
	File       string    `json:"-"`
	Size       int64     `json:"size_bytes"`
	SHA256     string    `json:"sha256"`
}

// SaveMessage fetches the recording from Asterisk, stores it and indexes it.
func (s *Messages) SaveMessage(ctx context.Context, m ivr.Message) error {
	data, err := s.src.StoredRecordingFile(ctx, m.Recording.Name)
	if err != nil {
		return fmt.Errorf("fetch recording %s: %w", m.Recording.Name, err)
	}
	id := uuid.NewString()
	sum := sha256.Sum256(data)
	rel := filepath.Join("messages", m.At.UTC().Format("2006/01/02"), id+".wav")
	path := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o440); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dur := m.Recording.Duration
	if d := wavDuration(data); d > 0 {
		dur = d
	}
	var callID *string
	if _, err := uuid.Parse(m.CallID); err == nil {
		callID = &m.CallID
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO messages
		(id, call_id, caller_number, did, flow, node, language, recorded_at, duration_ms, file, size_bytes, sha256)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		id, callID, m.Caller, m.DID, m.Flow, m.Node, m.Language, m.At.UTC(), dur.Milliseconds(), rel, len(data), hex.EncodeToString(sum[:]))
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("index message: %w", err)
	}
	// Asterisk's copy is no longer needed.
	if err := s.src.DeleteStoredRecording(ctx, m.Recording.Name); err != nil {
		return fmt.Errorf("message %s stored; removing Asterisk's copy: %w", id, err)
	}
	return nil
}

// wavDuration reads the length of a PCM WAV from its header (0 if unknown).
func wavDuration(b []byte) time.Duration {
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0
	}
	byteRate := int64(b[28]) | int64(b[29])<<8 | int64(b[30])<<16 | int64(b[31])<<24
	if byteRate <= 0 {
		return 0
	}
	// Find the data chunk.
	for i := 12; i+8 <= len(b); {
		size := int64(b[i+4]) | int64(b[i+5])<<8 | int64(b[i+6])<<16 | int64(b[i+7])<<24
		if string(b[i:i+4]) == "data" {
			if size > int64(len(b)-i-8) || size < 0 {
				size = int64(len(b) - i - 8)
			}
			return time.Duration(size * int64(time.Second) / byteRate)
		}
		i += 8 + int(size) + int(size&1)
	}
	return 0
}

const cols = `id::text, COALESCE(call_id::text, ''), caller_number, did, flow, node, language, recorded_at, duration_ms, file, size_bytes, sha256`

func scan(row pgx.Row) (Message, error) {
	var m Message
	err := row.Scan(&m.ID, &m.CallID, &m.Caller, &m.DID, &m.Flow, &m.Node, &m.Language, &m.RecordedAt, &m.DurationMS, &m.File, &m.Size, &m.SHA256)
	return m, err
}

// Query filters messages.
type Query struct {
	From, To time.Time
	Caller   string
	Limit    int
}

// List returns messages, newest first.
func (s *Messages) List(ctx context.Context, q Query) ([]Message, error) {
	if q.To.IsZero() {
		q.To = time.Now().Add(time.Hour)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM messages
		WHERE recorded_at >= $1 AND recorded_at < $2 AND ($3 = '' OR caller_number = $3)
		ORDER BY recorded_at DESC LIMIT $4`, q.From, q.To, q.Caller, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Get returns one message.
func (s *Messages) Get(ctx context.Context, id string) (Message, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Message{}, fmt.Errorf("message %q: %w", id, ErrNotFound)
	}
	m, err := scan(s.pool.QueryRow(ctx, `SELECT `+cols+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	return m, err
}

// Open opens a message's audio and checks it against its recorded hash.
func (s *Messages) Open(ctx context.Context, id string) (Message, []byte, error) {
	m, err := s.Get(ctx, id)
	if err != nil {
		return m, nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.dir, m.File))
	if err != nil {
		return m, nil, fmt.Errorf("message %s audio: %w", id, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != m.SHA256 {
		return m, nil, fmt.Errorf("message %s audio does not match its recorded SHA-256: the file was altered", id)
	}
	return m, data, nil
}
