package authorizer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
)

const methodARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/Users/42"

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// fixture is a key set with one key in each state, and a handler over it.
type fixture struct {
	store                  *keys.Memory
	good, revoked, expired apikey.Key
	goodOther              apikey.Key // a second tenant
	logs                   *syncBuffer
	h                      *authorizer.Handler
	now                    time.Time
	mu                     sync.Mutex
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: keys.NewMemory(), logs: &syncBuffer{}, now: t0}
	var err error
	mk := func(tenant string, exp *time.Time) apikey.Key {
		k, _, e := keys.Create(ctx, f.store, keys.NewKey{Tenant: tenant, Expires: exp}, t0.Add(-48*time.Hour))
		if e != nil {
			err = e
		}
		return k
	}
	f.good = mk("acme", nil)
	f.goodOther = mk("globex", nil)
	f.revoked = mk("acme", nil)
	past := t0.Add(-time.Hour)
	f.expired = mk("acme", &past)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(ctx, f.store, f.revoked.ID, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.h = authorizer.New(f.store, authorizer.WithCache(keys.CacheConfig{
		TTL: time.Minute, MaxStale: 5 * time.Minute, RetryEvery: time.Second, MinRefresh: 5 * time.Second,
		Now:    f.clock,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	}))
	return f
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func event(header string) events.APIGatewayCustomAuthorizerRequest {
	return events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: header, MethodArn: methodARN}
}

// withChecksum re-signs a key body so that only the secret is wrong.
func withChecksum(body string) string { return body + apikey.Checksum(body) }

func TestAllow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		header, tenant string
		id             string
	}{
		{"Bearer " + f.good.String(), "acme", f.good.ID},
		{"bearer " + f.good.String(), "acme", f.good.ID},
		{"BEARER " + f.goodOther.String(), "globex", f.goodOther.ID},
	} {
		resp, err := f.h.Handle(context.Background(), event(tc.header))
		if err != nil {
			t.Fatalf("Handle(%s) err = %v", tc.id, err)
		}
		if resp.PrincipalID != tc.id {
			t.Errorf("principalId = %q, want %q", resp.PrincipalID, tc.id)
		}
		if got := resp.Context; len(got) != 2 || got["tenant"] != tc.tenant || got["keyId"] != tc.id {
			t.Errorf("context = %v, want tenant=%s keyId=%s only", got, tc.tenant, tc.id)
		}
		p := resp.PolicyDocument
		if p.Version != "2012-10-17" || len(p.Statement) != 1 {
			t.Fatalf("policy = %+v", p)
		}
		st := p.Statement[0]
		want := "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"
		if st.Effect != "Allow" || len(st.Action) != 1 || st.Action[0] != "execute-api:Invoke" || len(st.Resource) != 1 || st.Resource[0] != want {
			t.Errorf("statement = %+v, want Allow execute-api:Invoke on %s", st, want)
		}
	}
}

// TestBadCredentials is the table of credentials that must each be refused
// with exactly "Unauthorized" (API Gateway's 401) and no policy.
func TestBadCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.good.String()
	unknown, _ := apikey.Generate()
	// change returns good with position i replaced by another base62 char.
	change := func(i int) string {
		c := byte('A')
		if good[i] == 'A' {
			c = 'B'
		}
		return good[:i] + string(c) + good[i+1:]
	}
	offByOne := change(len(apikey.Prefix) + apikey.IDLen + 5)
	badSum := change(len(good) - 1)
	secretStart := len(apikey.Prefix) + apikey.IDLen + 1
	wrongSecret := withChecksum(good[:secretStart] + strings.Repeat("x", apikey.SecretLen))

	tests := []struct{ name, header string }{
		{"none", ""},
		{"Bearer", "Bearer"},
		{"empty", "Bearer "},
		{"wrong secret", "Bearer " + wrongSecret},
		{"one character off", "Bearer " + offByOne},
		{"truncated", "Bearer " + good[:len(good)-3]},
		{"bad checksum", "Bearer " + badSum},
		{"unknown key id", "Bearer " + unknown.String()},
		{"revoked", "Bearer " + f.revoked.String()},
		{"expired", "Bearer " + f.expired.String()},
		{"Basic", "Basic dXNlcjpwYXNzd29yZA=="},
		{"Basic with the key", "Basic " + good},
		{"another scheme", "Token " + good},
		{"key without scheme", good},
		{"5000 characters", "Bearer " + strings.Repeat("A", 5000)},
		{"non-ASCII", "Bearer " + good[:20] + "é" + good[22:]},
		{"key twice", "Bearer " + good + " " + good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.h.Handle(context.Background(), event(tt.header))
			if err == nil || err.Error() != "Unauthorized" {
				t.Fatalf("err = %v, want exactly Unauthorized", err)
			}
			if resp.PrincipalID != "" || len(resp.PolicyDocument.Statement) != 0 || resp.Context != nil {
				t.Fatalf("response %+v alongside the error, want none", resp)
			}
		})
	}
	// Nothing secret reaches the logs: no key of the fixture, no token
	// from the table.
	logs := f.logs.String()
	for _, k := range []apikey.Key{f.good, f.revoked, f.expired, unknown} {
		if strings.Contains(logs, k.String()[secretStart:secretStart+12]) {
			t.Fatalf("logs contain the secret of key %s:\n%s", k.ID, logs)
		}
	}
	if !strings.Contains(logs, f.revoked.ID) || !strings.Contains(logs, "revoked") {
		t.Fatalf("logs lack the revoked key id and reason:\n%s", logs)
	}
}

func TestExpiryIsCheckedAtRequestTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := keys.NewMemory()
	exp := t0.Add(30 * time.Second)
	k, _, err := keys.Create(ctx, store, keys.NewKey{Tenant: "acme", Expires: &exp}, t0)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	h := authorizer.New(store, authorizer.WithClock(func() time.Time { return now }))
	if _, err := h.Handle(ctx, event("Bearer "+k.String())); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	now = exp // still within the cache TTL: the cached record is re-checked
	if _, err := h.Handle(ctx, event("Bearer "+k.String())); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("at expiry: %v, want Unauthorized", err)
	}
}

func TestUnavailableIsNotUnauthorized(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.store.SetErr(errors.New("secrets manager is down"))
	for _, header := range []string{"Bearer " + f.good.String(), "Bearer " + f.revoked.String()} {
		_, err := f.h.Handle(context.Background(), event(header))
		if err == nil || err.Error() == "Unauthorized" || !errors.Is(err, authorizer.ErrUnavailable) {
			t.Fatalf("no key set, no copy: err = %v, want ErrUnavailable (a 5xx), not Unauthorized", err)
		}
	}
	// Garbage is still refused without asking the store: 401, not 5xx.
	if _, err := f.h.Handle(context.Background(), event("Basic abc")); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("bad scheme during outage: %v, want Unauthorized", err)
	}
}

func TestOutageServesCachedCopy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); err != nil {
		t.Fatal(err)
	}
	f.store.SetErr(errors.New("secrets manager is down"))
	f.advance(2 * time.Minute) // past TTL, within TTL+MaxStale
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); err != nil {
		t.Fatalf("during outage with a cached copy: %v, want allow", err)
	}
	if _, err := f.h.Handle(ctx, event("Bearer "+f.revoked.String())); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("revoked key during outage: %v, want Unauthorized", err)
	}
	f.advance(5 * time.Minute) // past the bound
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); !errors.Is(err, authorizer.ErrUnavailable) {
		t.Fatalf("outage past the stale bound: %v, want ErrUnavailable", err)
	}
}

func TestNewKeyWorksBeforeTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); err != nil {
		t.Fatal(err)
	}
	k, _, err := keys.Create(ctx, f.store, keys.NewKey{Tenant: "initech"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.advance(6 * time.Second) // past MinRefresh, well within the TTL
	resp, err := f.h.Handle(ctx, event("Bearer "+k.String()))
	if err != nil || resp.Context["tenant"] != "initech" {
		t.Fatalf("new key: %v, %v; want allow for initech", resp.Context, err)
	}
	// Made-up ids do not make every request reload the set.
	loads := f.store.Loads()
	for range 50 {
		u, _ := apikey.Generate()
		f.h.Handle(ctx, event("Bearer "+u.String()))
	}
	if got := f.store.Loads() - loads; got > 0 {
		t.Fatalf("50 unknown keys within MinRefresh caused %d loads, want 0", got)
	}
}

func TestRevocationWithinTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(ctx, f.store, f.good.ID, t0); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	if _, err := f.h.Handle(ctx, event("Bearer "+f.good.String())); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("revoked key one TTL later: %v, want Unauthorized", err)
	}
}

func TestMethodARN(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		arn, want string
	}{
		{"arn:aws:execute-api:us-east-1:1:api/v1/POST/Users", "arn:aws:execute-api:us-east-1:1:api/v1/*/*"},
		{"arn:aws:execute-api:us-east-1:1:api/v1/DELETE/Users/a/b", "arn:aws:execute-api:us-east-1:1:api/v1/*/*"},
		{"arn:aws-cn:execute-api:cn-north-1:1:api/$default/GET/", "arn:aws-cn:execute-api:cn-north-1:1:api/$default/*/*"},
		{"arn:aws:lambda:us-east-1:1:function:x", ""},
		{"arn:aws:execute-api:us-east-1:1:api", ""},
		{"", ""},
	}
	for _, tt := range tests {
		ev := event("Bearer " + f.good.String())
		ev.MethodArn = tt.arn
		resp, err := f.h.Handle(context.Background(), ev)
		if tt.want == "" {
			if err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
				t.Errorf("methodArn %q: err = %v, want a non-401 error", tt.arn, err)
			}
			continue
		}
		if err != nil || resp.PolicyDocument.Statement[0].Resource[0] != tt.want {
			t.Errorf("methodArn %q: %v, %v; want %s", tt.arn, resp.PolicyDocument, err, tt.want)
		}
	}
}
