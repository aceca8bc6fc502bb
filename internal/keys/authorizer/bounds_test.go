package authorizer_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
)

// blockingSource is a key store that accepts a load and never answers
// until the load's context ends.
type blockingSource struct{ deadline chan time.Time }

func (b blockingSource) Load(ctx context.Context) (*keys.Set, error) {
	d, _ := ctx.Deadline()
	select {
	case b.deadline <- d:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// A decision gives up DeadlineMargin before the invocation's deadline, so
// the function answers (a 5xx here: no copy) instead of running into its
// timeout; the load it started runs under that earlier deadline too.
func TestDecisionEndsBeforeTheInvocationDeadline(t *testing.T) {
	t.Parallel()
	src := blockingSource{deadline: make(chan time.Time, 1)}
	h := authorizer.New(src, authorizer.WithCache(keys.CacheConfig{LoadTimeout: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	k, _ := apikey.Generate()
	left := authorizer.DeadlineMargin + 200*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	invocationDeadline, _ := ctx.Deadline()
	_, err := h.Handle(ctx, event("Bearer "+k.String()))
	ended := time.Now()
	if err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("Handle on a hung store without a copy = %v, want a 5xx error", err)
	}
	if ended.After(invocationDeadline) {
		t.Errorf("the decision ended %v after the invocation's deadline", ended.Sub(invocationDeadline))
	}
	if load := <-src.deadline; load.IsZero() || load.After(invocationDeadline.Add(-authorizer.DeadlineMargin)) {
		t.Errorf("the load's deadline is %v before the invocation's, want at least %v", invocationDeadline.Sub(load), authorizer.DeadlineMargin)
	}
}

// The timings are chosen together (docs/keys.md): the SDK's attempts of
// one call fit in a load, and a decision's two loads (root and shard) plus
// DeadlineMargin fit in AuthorizerFunction's Timeout in template.yaml.
func TestTimingsFitTheFunctionTimeout(t *testing.T) {
	t.Parallel()
	b := secretstore.AuthorizerBounds
	call := time.Duration(b.MaxAttempts)*b.Attempt + time.Duration(b.MaxAttempts-1)*b.MaxBackoff
	if b.Attempt <= 0 || b.MaxAttempts < 2 || call > keys.DefaultLoadTimeout {
		t.Errorf("AuthorizerBounds %+v: a call takes up to %v, want bounded attempts, retries, and at most the load timeout %v", b, call, keys.DefaultLoadTimeout)
	}
	tpl, err := os.ReadFile(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^  AuthorizerFunction:\n.*?^      Timeout: (\d+)$`).FindSubmatch(tpl)
	if m == nil {
		t.Fatal("template.yaml: AuthorizerFunction has no Timeout of its own")
	}
	secs, _ := strconv.Atoi(string(m[1]))
	timeout := time.Duration(secs) * time.Second
	if worst := 2*keys.DefaultLoadTimeout + authorizer.DeadlineMargin; worst >= timeout {
		t.Errorf("a decision may take %v (two loads and the margin), not under the function timeout %v", worst, timeout)
	}
	if keys.DefaultStaleWait >= keys.DefaultLoadTimeout/2 {
		t.Errorf("StaleWait %v is not short next to the load timeout %v", keys.DefaultStaleWait, keys.DefaultLoadTimeout)
	}
}
