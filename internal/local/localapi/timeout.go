package localapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.yaml.in/yaml/v3"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
)

// errFunctionTimedOut is a handler still running at its function's timeout:
// Lambda ends it ("Task timed out"), a function error to API Gateway (502).
var errFunctionTimedOut = errors.New("localapi: the function timed out")

// errIntegrationTimedOut is a handler API Gateway stopped waiting for (504).
var errIntegrationTimedOut = errors.New("localapi: the integration timed out")

// invoke runs the function's handler as Lambda and API Gateway would: its
// context ends at the function's timeout (Config.Timeouts), and past that,
// or past Config.IntegrationTimeout, the handler's answer is no longer
// waited for. A handler that overran keeps running in the background until
// it notices its context's end, as a timed-out Lambda is stopped mid-work.
func (a *API) invoke(ctx context.Context, function string, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	fn := a.cfg.Functions[function]
	timeout, wait := a.cfg.Timeouts[function], a.cfg.IntegrationTimeout
	if timeout <= 0 && wait <= 0 {
		return fn(ctx, ev)
	}
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	type result struct {
		resp events.APIGatewayProxyResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := fn(ctx, ev)
		done <- result{resp, err}
	}()
	var waited <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		waited = t.C
	}
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return events.APIGatewayProxyResponse{}, ctx.Err() // the client went away
		}
		return events.APIGatewayProxyResponse{}, fmt.Errorf("%w after %v", errFunctionTimedOut, timeout)
	case <-waited:
		return events.APIGatewayProxyResponse{}, errIntegrationTimedOut
	}
}

// FunctionTimeouts returns the Timeout of every function of t, by logical
// ID: its own, else Globals.Function's; a !Ref to a parameter is that
// parameter's Default. `make run` gives them to Config.Timeouts, so a
// request there has the time it has in AWS.
func FunctionTimeouts(t *samtemplate.Template) (map[string]time.Duration, error) {
	out := make(map[string]time.Duration, len(t.Functions))
	for id := range t.Functions {
		n := t.Node("Resources", id, "Properties", "Timeout")
		if n == nil {
			n = t.Node("Globals", "Function", "Timeout")
		}
		if n == nil {
			out[id] = 3 * time.Second // Lambda's default
			continue
		}
		if ref, ok := refOf(n); ok {
			if n = t.Node("Parameters", ref, "Default"); n == nil {
				return nil, fmt.Errorf("localapi: %s: Timeout refers to %s, a parameter without a Default", id, ref)
			}
		}
		secs, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || secs <= 0 {
			return nil, fmt.Errorf("localapi: %s: Timeout %q is not a whole number of seconds", id, n.Value)
		}
		out[id] = time.Duration(secs) * time.Second
	}
	return out, nil
}

// refOf returns X for "!Ref X" or "{Ref: X}".
func refOf(n *yaml.Node) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!Ref" {
		return n.Value, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Ref" {
		return n.Content[1].Value, true
	}
	return "", false
}
