package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
	"github.com/serverless-scim/serverless-scim/internal/scimhttp"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/users"
)

// api is the local API (what `make run` serves: the local API Gateway, the
// authorizer with its decision cached as in AWS, the per-verb handlers) on a
// loopback port, over a store on the counting client.
type api struct {
	url, key string
	client   *http.Client
	srv      *http.Server
}

func startAPI(tmpl *samtemplate.Template, dir string, st *dynamo.UserStore, policy users.PasswordPolicy) (*api, error) {
	svc := users.New(st)
	svc.Passwords = policy
	functions := gateway.Handlers([]scimhttp.Service{svc})
	keysPath := filepath.Join(dir, "keys.json")
	key, err := keyfile.EnsureDevKey(keysPath, filepath.Join(dir, "dev-key"), "default")
	if err != nil {
		return nil, err
	}
	auth := authorizer.New(keyfile.New(keysPath))
	h, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: auth.Handle, AuthorizerTTL: 300 * time.Second})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &api{
		url: "http://" + ln.Addr().String() + "/scim/v2", key: key, srv: srv,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: time.Minute},
	}, nil
}

func (a *api) close() { _ = a.srv.Close() }

// do sends one request and returns the status and the body decoded (nil if
// it is not a JSON object).
func (a *api) do(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m, nil
}

// expect is do that fails on any status but want.
func (a *api) expect(want int, method, path string, body any) (map[string]any, error) {
	status, m, err := a.do(method, path, body)
	if err != nil {
		return nil, err
	}
	if status != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %v", method, path, status, want, m)
	}
	return m, nil
}
