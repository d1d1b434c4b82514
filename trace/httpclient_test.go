package trace_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/trace"
)

// platform is a traceability platform implementing the HTTPClient contract
// under /api/v1, with a few codes that misbehave.
type platform struct {
	records  map[trace.Code]trace.Record
	requests atomic.Int32
}

const (
	codeBroken    = "6900000000016" // 500
	codeSlow      = "6900000000023" // never answers
	codeGarbage   = "6900000000030" // not JSON
	codeOther     = "6900000000047" // the record of another code
	codeSlowBody  = "6900000000054" // headers, then no body
	platformToken = "secret-key"
)

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	code, ok := strings.CutPrefix(r.URL.Path, "/api/v1/codes/")
	if !ok || r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Api-Key") != platformToken {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	switch code {
	case codeBroken:
		http.Error(w, "database down", http.StatusInternalServerError)
	case codeSlow:
		<-r.Context().Done()
	case codeGarbage:
		w.Write([]byte("<html>maintenance</html>"))
	case codeOther:
		json.NewEncoder(w).Encode(trace.Sample())
	case codeSlowBody:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"code":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		rec, ok := p.records[trace.Code(code)]
		if !ok {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec)
	}
}

func TestHTTPClient(t *testing.T) {
	p := &platform{records: map[trace.Code]trace.Record{}}
	for _, r := range trace.Generate(20, 5) {
		p.records[r.Code] = r
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	const timeout = 300 * time.Millisecond
	c, err := trace.NewHTTPClient(srv.URL+"/api/v1/", trace.WithTimeout(timeout), trace.WithHeader("X-Api-Key", platformToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("found", func(t *testing.T) {
		for code, want := range p.records {
			got, err := c.Lookup(ctx, code)
			if err != nil || !reflect.DeepEqual(*got, want) {
				t.Fatalf("%s: %+v, %v", code, got, err)
			}
		}
	})

	tests := []struct {
		name string
		code trace.Code
		want error
		msg  string
	}{
		{"not found", trace.Complete("690000000999"), trace.ErrNotFound, ""},
		{"server error", codeBroken, trace.ErrUnavailable, "500 Internal Server Error"},
		{"not JSON", codeGarbage, trace.ErrUnavailable, "answer is not a trace record"},
		{"another code", codeOther, trace.ErrUnavailable, `answer is the record of "6901234567892"`},
		{"slow server", codeSlow, trace.ErrUnavailable, "no answer from the traceability platform within 300ms"},
		{"slow body", codeSlowBody, trace.ErrUnavailable, "no answer from the traceability platform within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r, err := c.Lookup(ctx, tt.code)
			if !errors.Is(err, tt.want) || r != nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("%v, %v; want %v with %q", r, err, tt.want, tt.msg)
			}
			if errors.Is(err, trace.ErrUnavailable) && errors.Is(err, trace.ErrNotFound) {
				t.Fatalf("both not found and unavailable: %v", err)
			}
			// Bound only, generous for a loaded machine: the lookup must not
			// outlast its timeout by much.
			if d := time.Since(start); d > timeout+2*time.Second {
				t.Fatalf("took %v with a timeout of %v", d, timeout)
			}
		})
	}

	t.Run("slow server with the default timeout", func(t *testing.T) {
		c, err := trace.NewHTTPClient(srv.URL+"/api/v1", trace.WithHeader("X-Api-Key", platformToken))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Lookup(ctx, codeSlow); !errors.Is(err, trace.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
			!strings.Contains(err.Error(), "within 2s") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("caller hangs up", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Lookup(cctx, codeSlow); !errors.Is(err, trace.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	})

	t.Run("not a code: no request", func(t *testing.T) {
		before := p.requests.Load()
		for _, code := range []trace.Code{"", "../admin", "6901?x=1"} {
			if _, err := c.Lookup(ctx, code); !errors.Is(err, trace.ErrNotFound) {
				t.Fatalf("%q: %v", code, err)
			}
		}
		if p.requests.Load() != before {
			t.Fatal("a malformed code reached the platform")
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		c, _ := trace.NewHTTPClient(srv.URL + "/api/v1")
		if _, err := c.Lookup(ctx, trace.SampleCode); !errors.Is(err, trace.ErrUnavailable) || !strings.Contains(err.Error(), "403") {
			t.Fatalf("%v", err)
		}
	})
}

func TestHTTPClientConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := trace.NewHTTPClient(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(context.Background(), trace.SampleCode); !errors.Is(err, trace.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("%v", err)
	}
}

func TestNewHTTPClient(t *testing.T) {
	for _, u := range []string{"", "platform.example", "ftp://platform.example", "http://"} {
		if _, err := trace.NewHTTPClient(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := trace.NewHTTPClient("https://platform.example", trace.WithTimeout(0)); err == nil {
		t.Error("zero timeout accepted")
	}
}
