// Package smfake is an in-process stand-in for AWS Secrets Manager, for
// tests: an httptest server speaking the awsJson1.1 protocol
// (X-Amz-Target: secretsmanager.<Operation>, errors as {"__type": …}) that
// the real SDK client talks to. It implements CreateSecret, DescribeSecret,
// GetSecretValue, PutSecretValue and UpdateSecretVersionStage with the
// staging-label rules AWS documents, gives every secret an ARN with a random
// six-character suffix (and accepts it as SecretId), refuses a SecretString
// over 65,536 bytes as AWS does (moto does not), and can be told to fail like
// an outage (SetFail) or to hang (SetHang).
package smfake

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// MaxSecretBytes is Secrets Manager's limit on a SecretString.
const MaxSecretBytes = 65536

// arnPrefix is the ARN of every fake secret before its name.
const arnPrefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"

// Server is a fake Secrets Manager. Point an SDK client's BaseEndpoint at URL.
type Server struct {
	// URL is the endpoint to use as the client's BaseEndpoint.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]*fakeSecret
	failWith int            // HTTP status to answer every call with; 0 = healthy
	calls    map[string]int // per operation
	hang     chan struct{}  // non-nil while hanging; closed to release
	hung     int            // calls hanging now
}

type fakeSecret struct {
	arn         string
	description string
	versions    map[string]*fakeVersion
	order       []string
}

type fakeVersion struct {
	value  string
	stages []string
}

// New starts a Server that is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	f := Start()
	t.Cleanup(f.Close)
	return f
}

// Start starts a Server that lives until Close, e.g. one shared by the
// benchmarks of a package.
func Start() *Server {
	f := &Server{secrets: map[string]*fakeSecret{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the server, releasing hung calls first (httptest waits for
// every call to end).
func (f *Server) Close() {
	f.SetHang(false)
	f.srv.Close()
}

// SetHang makes every following call hang (on) or heals (off). A hung call
// is read and counted, then never answered until the client gives up (it
// closes the connection or its context ends), the hang is switched off
// (then it is answered normally, like a slow Secrets Manager catching up)
// or the server is closed: a Secrets Manager that accepts connections and
// stops answering, not one that refuses them.
func (f *Server) SetHang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.hang == nil:
		f.hang = make(chan struct{})
	case !on && f.hang != nil:
		close(f.hang)
		f.hang = nil
	}
}

// Hung returns how many calls are hanging now.
func (f *Server) Hung() int { f.mu.Lock(); defer f.mu.Unlock(); return f.hung }

// CreateSecret creates an empty secret (no value yet) named name and
// returns its ARN.
func (f *Server) CreateSecret(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sec := newSecret(name)
	f.secrets[name] = sec
	return sec.arn
}

// newSecret returns an empty secret whose ARN ends in "-" and six
// characters derived from its name, like AWS's random suffix.
func newSecret(name string) *fakeSecret {
	sum := sha256.Sum256([]byte(name))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = chars[int(sum[i])%len(chars)]
	}
	return &fakeSecret{arn: arnPrefix + name + "-" + string(suffix), versions: map[string]*fakeVersion{}}
}

// Names returns the names of all secrets, sorted.
func (f *Server) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.secrets))
	for n := range f.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookup finds a secret by name or ARN; f.mu is held.
func (f *Server) lookup(id string) (string, *fakeSecret) {
	if sec := f.secrets[id]; sec != nil {
		return id, sec
	}
	for name, sec := range f.secrets {
		if sec.arn == id {
			return name, sec
		}
	}
	return "", nil
}

// SetFail makes every call answer with HTTP status (0 heals).
func (f *Server) SetFail(status int) { f.mu.Lock(); f.failWith = status; f.mu.Unlock() }

// Count returns how many times operation op was called.
func (f *Server) Count(op string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[op] }

// Current returns the AWSCURRENT version id and value of secret name (or
// ARN); empty strings if it has none.
func (f *Server) Current(name string) (id, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, sec := f.lookup(name)
	if sec == nil {
		return "", ""
	}
	for id, v := range sec.versions {
		if slices.Contains(v.stages, "AWSCURRENT") {
			return id, v.value
		}
	}
	return "", ""
}

type smError struct {
	status int
	typ    string
	msg    string
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		http.Error(w, "bad protocol", http.StatusBadRequest)
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls[op]++
	if hang := f.hang; hang != nil {
		f.hung++
		f.mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		f.mu.Lock()
		f.hung--
		if r.Context().Err() != nil {
			f.mu.Unlock()
			return // nobody is listening
		}
	}
	var (
		out  any
		serr *smError
	)
	if f.failWith != 0 {
		serr = &smError{f.failWith, "InternalServiceError", "simulated outage"}
	} else {
		out, serr = f.do(op, in)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if serr != nil {
		w.WriteHeader(serr.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": serr.typ, "message": serr.msg})
		return
	}
	json.NewEncoder(w).Encode(out)
}

func str(in map[string]any, k string) string { s, _ := in[k].(string); return s }

// do runs one operation; f.mu is held.
func (f *Server) do(op string, in map[string]any) (any, *smError) {
	if op == "CreateSecret" {
		name := str(in, "Name")
		if name == "" || strings.HasPrefix(name, "arn:") {
			return nil, &smError{400, "InvalidParameterException", "invalid name"}
		}
		if f.secrets[name] != nil {
			return nil, &smError{400, "ResourceExistsException", "The operation failed because the secret " + name + " already exists."}
		}
		value, hasValue := in["SecretString"].(string)
		if len(value) > MaxSecretBytes {
			return nil, tooLarge()
		}
		sec := newSecret(name)
		sec.description = str(in, "Description")
		out := map[string]any{"ARN": sec.arn, "Name": name}
		if hasValue {
			id := str(in, "ClientRequestToken")
			sec.versions[id] = &fakeVersion{value: value, stages: []string{"AWSCURRENT"}}
			sec.order = append(sec.order, id)
			out["VersionId"] = id
		}
		f.secrets[name] = sec
		return out, nil
	}
	name, sec := f.lookup(str(in, "SecretId"))
	if sec == nil {
		return nil, &smError{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
	}
	arn := sec.arn
	switch op {
	case "DescribeSecret":
		return map[string]any{"ARN": arn, "Name": name, "Description": sec.description}, nil
	case "GetSecretValue":
		stage := str(in, "VersionStage")
		if stage == "" {
			stage = "AWSCURRENT"
		}
		for _, id := range sec.order {
			if v := sec.versions[id]; slices.Contains(v.stages, stage) {
				return map[string]any{"ARN": arn, "Name": name, "VersionId": id, "SecretString": v.value,
					"VersionStages": slices.Clone(v.stages), "CreatedDate": 1.7e9}, nil
			}
		}
		return nil, &smError{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: " + stage}
	case "PutSecretValue":
		id := str(in, "ClientRequestToken")
		if len(str(in, "SecretString")) > MaxSecretBytes {
			return nil, tooLarge()
		}
		if _, dup := sec.versions[id]; dup {
			return nil, &smError{400, "ResourceExistsException", "version exists"}
		}
		var stages []string
		if raw, ok := in["VersionStages"].([]any); ok {
			for _, s := range raw {
				stages = append(stages, s.(string))
			}
		} else {
			stages = []string{"AWSCURRENT"}
		}
		if len(sec.versions) == 0 && !slices.Contains(stages, "AWSCURRENT") {
			stages = append(stages, "AWSCURRENT")
		}
		for _, s := range stages { // a label lives on one version only
			f.removeStage(sec, s)
		}
		sec.versions[id] = &fakeVersion{value: str(in, "SecretString"), stages: stages}
		sec.order = append(sec.order, id)
		return map[string]any{"ARN": arn, "Name": name, "VersionId": id, "VersionStages": slices.Clone(stages)}, nil
	case "UpdateSecretVersionStage":
		stage, from, to := str(in, "VersionStage"), str(in, "RemoveFromVersionId"), str(in, "MoveToVersionId")
		holder := ""
		for id, v := range sec.versions {
			if slices.Contains(v.stages, stage) {
				holder = id
			}
		}
		if holder != "" && holder != to && holder != from {
			return nil, &smError{400, "InvalidParameterException",
				fmt.Sprintf("The parameter RemoveFromVersionId doesn't match: %s is attached to version %s", stage, holder)}
		}
		if sec.versions[to] == nil {
			return nil, &smError{400, "InvalidParameterException", "Not a valid version: " + to}
		}
		f.removeStage(sec, stage)
		sec.versions[to].stages = append(sec.versions[to].stages, stage)
		return map[string]any{"ARN": arn, "Name": name}, nil
	}
	return nil, &smError{400, "UnknownOperationException", op}
}

// tooLarge is the answer to a SecretString over the limit. AWS documents
// the 65,536-byte quota; the error type is this fake's choice.
func tooLarge() *smError {
	return &smError{400, "InvalidParameterException",
		fmt.Sprintf("SecretString exceeds the maximum length of %d bytes", MaxSecretBytes)}
}

// removeStage takes stage off every version. The version losing AWSCURRENT
// gets AWSPREVIOUS, as in Secrets Manager.
func (f *Server) removeStage(sec *fakeSecret, stage string) {
	var was *fakeVersion
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			was = v
		}
		v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stage })
	}
	if stage == "AWSCURRENT" && was != nil {
		f.removeStage(sec, "AWSPREVIOUS")
		was.stages = append(was.stages, "AWSPREVIOUS")
	}
}
