// Package apitest starts the whole local API for end-to-end tests: a fresh
// store (a DynamoDB Local table, or the in-memory store for logic tests),
// the per-verb Lambda handlers, the real authorizer on a temporary key file,
// and internal/local/localapi in an httptest server, with the routes of
// template.yaml. Requests take the path they take in AWS.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo/dynamotest"
	"github.com/serverless-scim/serverless-scim/internal/store/memory"
	"github.com/serverless-scim/serverless-scim/internal/users"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Options adjust Start.
type Options struct {
	// AuthorizerTTL is the decision cache's TTL (0: no caching).
	AuthorizerTTL time.Duration
	// KeyTTL is the key set cache's TTL in the authorizer (0: its default).
	KeyTTL time.Duration
	// Store selects the store behind the handlers (default DynamoDB).
	Store Backend
	// WrapDB, when set, wraps the DynamoDB client the stores use (DynamoDB
	// backend only): benchmarks count calls with it.
	WrapDB func(dynamo.API) dynamo.API
	// Passwords is the User service's password policy (default: ignore).
	Passwords users.PasswordPolicy
	// DB, when set, is the DynamoDB client the table is created on (DynamoDB
	// backend only): the fault tests give the client of a DynamoDB Local they
	// started themselves, so that they can kill or pause it.
	DB *dynamodb.Client
	// FunctionTimeout, when set, is every function's timeout (as Lambda
	// applies template.yaml's) and API Gateway's 29 s integration timeout
	// applies too: the fault tests see a request end as it ends in AWS.
	// Zero: no timeout, so that slow machines do not fail other tests.
	FunctionTimeout time.Duration
}

// Backend is a kind of store behind the local API.
type Backend int

const (
	// DynamoDB is a fresh table on DynamoDB Local: for tests that claim
	// storage behaviour (what is stored, what it costs).
	DynamoDB Backend = iota
	// Memory is internal/store/memory, which the contract suite
	// (internal/store/storetest) holds to the DynamoDB store's semantics:
	// for tests of the logic above the store. No Java, milliseconds.
	Memory
)

// Env is a running local API.
type Env struct {
	// URL is the SCIM base URL, e.g. http://127.0.0.1:1234/scim/v2.
	URL string
	// Key is a valid bearer key for tenant "default".
	Key string
	// KeysPath is the key file the authorizer reads (scimctl --keys-file).
	KeysPath string
	// API is the local API Gateway.
	API *localapi.API
	// Store is the user store behind the handlers.
	Store scim.UserStore
	// GroupStore is the group store behind the handlers.
	GroupStore scim.GroupStore
	// DB and Table are the DynamoDB Local client and table behind Store
	// (nil and "" with the Memory backend), for tests that inspect items.
	DB    *dynamodb.Client
	Table string
	// Users is the service behind the handlers.
	Users *users.Service
	t     testing.TB
}

// Start starts a local API for t, stopped when t ends.
func Start(t testing.TB, opt Options) *Env {
	t.Helper()
	tmpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatalf("loading template.yaml: %v", err)
	}
	env := &Env{t: t}
	switch opt.Store {
	case Memory:
		us := memory.New()
		env.Store, env.GroupStore = us, memory.NewGroupStore(us)
	default:
		if opt.DB != nil {
			env.DB, env.Table = opt.DB, dynamotest.TableOn(t, opt.DB)
		} else {
			env.DB, env.Table = dynamotest.Table(t)
		}
		var db dynamo.API = env.DB
		if opt.WrapDB != nil {
			db = opt.WrapDB(db)
		}
		env.Store = dynamo.NewUserStore(db, env.Table)
		env.GroupStore = dynamo.NewGroupStore(db, env.Table)
	}
	resources := gateway.Resources(env.Store, env.GroupStore)
	svc := resources[0].(*users.Service)
	svc.Passwords = opt.Passwords
	functions := gateway.Handlers(resources)
	dir := t.TempDir()
	keysPath := filepath.Join(dir, "keys.json")
	key, err := keyfile.EnsureDevKey(keysPath, filepath.Join(dir, "dev-key"), "default")
	if err != nil {
		t.Fatalf("dev key: %v", err)
	}
	var aopts []authorizer.Option
	if opt.KeyTTL > 0 {
		aopts = append(aopts, authorizer.WithTTL(opt.KeyTTL))
	}
	auth := authorizer.New(keyfile.New(keysPath), aopts...)
	cfg := localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: auth.Handle, AuthorizerTTL: opt.AuthorizerTTL}
	if opt.FunctionTimeout > 0 {
		cfg.Timeouts = map[string]time.Duration{}
		for id := range functions {
			cfg.Timeouts[id] = opt.FunctionTimeout
		}
		cfg.IntegrationTimeout = gateway.IntegrationTimeout
	}
	api, err := localapi.New(cfg)
	if err != nil {
		t.Fatalf("local API: %v", err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env.URL, env.Key, env.KeysPath, env.API, env.Users = srv.URL+"/scim/v2", key, keysPath, api, svc
	return env
}

// Response is a response read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (failing the test if it is not JSON).
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Do sends a request with the env's key. path is relative to the SCIM base
// URL ("/Users?..."); body, when not nil, is sent as JSON (a string or
// []byte is sent as is).
func (e *Env) Do(method, path string, body any, headers ...string) *Response {
	e.t.Helper()
	return e.DoAs(e.Key, method, path, body, headers...)
}

// DoAs is Do with another bearer key ("" sends no Authorization header).
func (e *Env) DoAs(key, method, path string, body any, headers ...string) *Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/scim+json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}
