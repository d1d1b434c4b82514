package desk_test

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ccd-platform/ccd/agentdesk/desk"
)

// fuzzEnv is a served desk whose error logs the fuzzers watch: a body must
// never make a request fail inside (500) or an audit row fail to write.
func fuzzEnv(f *testing.F) (*env, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.ErrorLevel)
	e := newEnv(f, func(o *desk.Options) { o.Logger = zap.New(core) })
	return e, logs
}

// FuzzLoginBody: any body gets 200, 400, 401 or 429, never a server error.
func FuzzLoginBody(f *testing.F) {
	for _, s := range []string{
		`{"username": "alice", "password": "secret-of-alice"}`,
		`{"username": "alice", "password": "wrong"}`,
		`{"username": "ALICE ", "password": "secret-of-alice"}`,
		`{"username": "al\u0000ice", "password": "x"}`,
		`{"username": "` + string(make([]byte, 300)) + `", "password": "x"}`,
		`{"username": "alice", "password": "secret-of-alice"} trailing`,
		`{"username": 1, "password": []}`,
		`{"username": "alice", "password": "secret-of-alice", "extra": 1}`,
		`[]`, `null`, ``, `{`, `{"username": "\ud800", "password": "\udfff"}`,
	} {
		f.Add(s)
	}
	e, logs := fuzzEnv(f)
	c := e.bearer()
	c.bearer = ""
	f.Fuzz(func(t *testing.T, body string) {
		status, answer := c.do(t, "POST", "/api/v1/auth/login", body, "Content-Type", "application/json")
		switch status {
		case 200, 400, 401, 429:
		default:
			t.Fatalf("body %q: HTTP %d %s", body, status, answer)
		}
		if n := logs.TakeAll(); len(n) > 0 {
			t.Fatalf("body %q: error logged: %v %v", body, n[0].Message, n[0].Context)
		}
	})
}

// FuzzCustomerBody: any body gets 201, 400 or 422, never a server error.
func FuzzCustomerBody(f *testing.F) {
	for _, s := range []string{
		`{"name": "Wang Fang", "level": "vip", "phones": ["138 0000 0001"], "contacts": [{"name": "Zhang Wei", "phone": "139-0000-0002"}]}`,
		`{"name": "x", "level": "gold"}`,
		`{"name": "x", "phones": ["+"]}`,
		`{"name": "x", "phones": ["1+2"]}`,
		`{"name": "x\u0000"}`,
		`{"name": "x", "notes": "\u0000"}`,
		`{"name": "x", "contacts": [{"name": "", "email": "a@b"}]}`,
		`{"name": "x", "contacts": [{"name": "y", "phone": "\u0000123"}]}`,
		`{"name": "x", "contacts": null, "phones": null}`,
		`{"name": "x", "created_at": "yesterday"}`,
		`{"name": "\ud83d\ude00", "company": "\ud800"}`,
		`{} {}`, `[]`, `"x"`, ``,
	} {
		f.Add(s)
	}
	e, logs := fuzzEnv(f)
	alice := e.login(f, "alice")
	f.Fuzz(func(t *testing.T, body string) {
		status, answer := alice.do(t, "POST", "/api/v1/customers", body)
		switch status {
		case 201, 400, 422:
		default:
			t.Fatalf("body %q: HTTP %d %s", body, status, answer)
		}
		if n := logs.TakeAll(); len(n) > 0 {
			t.Fatalf("body %q: error logged: %v %v", body, n[0].Message, n[0].Context)
		}
	})
}
