package agentdesk

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/recording"
)

// RecordRoutes serves call detail records and left messages:
//
//	GET /api/v1/calls?caller=&since=24h&limit=
//	GET /api/v1/calls/{id}
//	GET /api/v1/messages?caller=&since=24h&limit=
//	GET /api/v1/messages/{id}
//	GET /api/v1/messages/{id}/audio      (audio/wav; refused if the file no longer matches its SHA-256)
func RecordRoutes(calls *cdr.Store, msgs *recording.Messages) func(*http.ServeMux, func(http.HandlerFunc) http.HandlerFunc) {
	return func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		api := &API{log: nopLog}
		mux.HandleFunc("GET /api/v1/calls", auth(func(w http.ResponseWriter, r *http.Request) {
			from, limit, err := window(r)
			if err != nil {
				api.Fail(w, r, err)
				return
			}
			list, err := calls.List(r.Context(), cdr.Query{From: from, Caller: r.URL.Query().Get("caller"), Limit: limit})
			if err != nil {
				api.Fail(w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, map[string]any{"calls": list})
		}))
		mux.HandleFunc("GET /api/v1/calls/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
			rec, err := calls.Get(r.Context(), r.PathValue("id"))
			if err != nil {
				api.Fail(w, r, notFound(err))
				return
			}
			WriteJSON(w, http.StatusOK, rec)
		}))
		if msgs == nil {
			return
		}
		mux.HandleFunc("GET /api/v1/messages", auth(func(w http.ResponseWriter, r *http.Request) {
			from, limit, err := window(r)
			if err != nil {
				api.Fail(w, r, err)
				return
			}
			list, err := msgs.List(r.Context(), recording.Query{From: from, Caller: r.URL.Query().Get("caller"), Limit: limit})
			if err != nil {
				api.Fail(w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, map[string]any{"messages": list})
		}))
		mux.HandleFunc("GET /api/v1/messages/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
			m, err := msgs.Get(r.Context(), r.PathValue("id"))
			if err != nil {
				api.Fail(w, r, notFound(err))
				return
			}
			WriteJSON(w, http.StatusOK, m)
		}))
		mux.HandleFunc("GET /api/v1/messages/{id}/audio", auth(func(w http.ResponseWriter, r *http.Request) {
			m, data, err := msgs.Open(r.Context(), r.PathValue("id"))
			if err != nil {
				api.Fail(w, r, notFound(err))
				return
			}
			w.Header().Set("Content-Type", "audio/wav")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Header().Set("X-Content-SHA256", m.SHA256)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(data)
		}))
	}
}

func window(r *http.Request) (time.Time, int, error) {
	since := 24 * time.Hour
	if s := r.URL.Query().Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return time.Time{}, 0, ErrInvalidf("since=%q is not a duration like 24h", s)
		}
		since = d
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 1000 {
			return time.Time{}, 0, ErrInvalidf("limit=%q must be 1..1000", s)
		}
		limit = n
	}
	return time.Now().Add(-since), limit, nil
}
