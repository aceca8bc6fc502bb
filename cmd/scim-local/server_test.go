package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
)

// serve starts newServer under l on a loopback port with the local API in
// front of functions that answer 204, and returns its address.
func serve(t *testing.T, l limits) string {
	t.Helper()
	tmpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusNoContent}, nil
	}
	functions := map[string]localapi.LambdaHandler{}
	for _, r := range tmpl.Routes {
		functions[r.Function] = ok
	}
	allow := func(context.Context, events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "k", Context: map[string]any{"tenant": "t"},
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
				{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}}}}, nil
	}
	api, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: allow})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(api, l)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// exchange writes raw to a new connection to addr, then reads until the
// server answers and closes, or until 5 s have passed. It returns what came
// back and how long the server took to end the exchange.
func exchange(t *testing.T, addr, raw string) (string, time.Duration) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if err := conn.SetDeadline(start.Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(bufio.NewReader(conn))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open for 5 s; got %q", got)
	}
	return string(got), time.Since(start)
}

// TestServerLimits: a client that sends its headers or its body too slowly,
// or too many header bytes, is cut off by the local server, and a normal
// request still goes through.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	l := limits{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond, Write: 2 * time.Second, Idle: 300 * time.Millisecond, HeaderBytes: 20 << 10}
	addr := serve(t, l)
	const head = "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
	for _, tc := range []struct {
		name, raw  string
		wantStatus string        // "" when the server just closes
		within     time.Duration // the server ends the exchange by then
	}{
		{"a normal request", head + "Content-Length: 2\r\nConnection: close\r\n\r\n{}", "204", time.Second},
		{"headers never finished", head, "", l.ReadHeader + time.Second},
		{"a body that never comes", head + "Content-Length: 100\r\n\r\n{\"a\":", "400", l.Read + time.Second},
		{"too many header bytes", head + "X-Big: " + strings.Repeat("a", 30<<10) + "\r\n\r\n", "431", time.Second},
		{"an idle keep-alive connection", head + "Content-Length: 2\r\n\r\n{}", "204", l.Idle + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, took := exchange(t, addr, tc.raw)
			if took > tc.within {
				t.Errorf("the server ended the exchange after %v, want within %v", took, tc.within)
			}
			if tc.wantStatus == "" {
				if strings.HasPrefix(got, "HTTP/1.1 2") {
					t.Errorf("answered %q", got)
				}
				return
			}
			if want := fmt.Sprintf("HTTP/1.1 %s ", tc.wantStatus); !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want a %s", got, tc.wantStatus)
			}
			if tc.wantStatus == "400" && !strings.Contains(got, "Content-Type: application/scim+json") {
				t.Errorf("got %q, want a SCIM error", got)
			}
		})
	}
}

// The local server runs with every limit set.
func TestEdgeLimitsAreSet(t *testing.T) {
	t.Parallel()
	s := newServer(http.NotFoundHandler(), edgeLimits)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= s.ReadTimeout+29*time.Second || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server limits %+v: every one must be set, and the write timeout above the read timeout plus 29 s", edgeLimits)
	}
}
