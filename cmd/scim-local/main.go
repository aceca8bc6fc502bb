// Command scim-local serves the SCIM API on this machine (`make run`): it
// starts DynamoDB Local with its data under .data/, creates the table if
// missing, and serves http://127.0.0.1:8080/scim/v2 through internal/local/localapi,
// which runs the same authorizer and the same per-verb Lambda handlers as
// AWS, with the routes and each function's timeout read from template.yaml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/config"
	"github.com/serverless-scim/serverless-scim/internal/deploy/samtemplate"
	"github.com/serverless-scim/serverless-scim/internal/events"
	"github.com/serverless-scim/serverless-scim/internal/gateway"
	"github.com/serverless-scim/serverless-scim/internal/keys/authorizer"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/local/localapi"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// LOG_LEVEL and METRICS_NAMESPACE, as the functions read them.
	var tel config.Telemetry
	if err := config.Load(&tel); err != nil {
		fmt.Fprintln(os.Stderr, "scim-local:", err)
		os.Exit(1)
	}
	// The functions' JSON lines, on stderr: stdout has the banner.
	logger := telemetry.NewLogger(os.Stderr, tel.LogLevel)
	slog.SetDefault(logger) // for localapi's own lines
	if err := run(ctx, os.Args[1:], os.Stdout, logger, tel.MetricsNamespace); err != nil {
		fmt.Fprintln(os.Stderr, "scim-local:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. It prints the base URL and the dev key to out;
// the functions and the authorizer log to logger, with metrics in namespace.
func run(ctx context.Context, args []string, out io.Writer, logger *slog.Logger, namespace string) error {
	flags := flag.NewFlagSet("scim-local", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8080", "address to serve the SCIM API on")
	dataDir := flags.String("data", ".data", "folder for DynamoDB Local's data and the local API keys")
	ddbAddr := flags.String("dynamodb-addr", "127.0.0.1:8000", "address for DynamoDB Local (make rie-<Function> and invoke-<Function> expect :8000; \"\" picks a free port)")
	ddbEndpoint := flags.String("dynamodb-endpoint", os.Getenv(config.DynamoDBEndpointEnv), "use this running DynamoDB instead of starting DynamoDB Local")
	table := flags.String("table", "scim-local", "DynamoDB table name")
	templatePath := flags.String("template", "template.yaml", "SAM template to read routes from")
	authTTL := flags.Duration("authorizer-ttl", 300*time.Second, "how long a key's authorizer decision is cached (API Gateway: 300s)")
	keyTTL := flags.Duration("key-ttl", 5*time.Second, "how long the key set is cached by the authorizer")
	evFile := flags.String("events-file", "", "file the change events are appended to, one JSON line each (default <data>/events.jsonl)")
	evEndpoint := flags.String("events-endpoint", "", "publish the change events to this EventBridge-compatible endpoint instead of the file")
	evBus := flags.String("events-bus", "default", "event bus for -events-endpoint")
	fnTimeout := flags.Duration("function-timeout", 0, "every SCIM function's timeout (default: each function's Timeout in the template, as Lambda applies it)")
	if err := flags.Parse(args); err != nil {
		return err
	}

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	endpoint := *ddbEndpoint
	if endpoint == "" {
		logFile, err := os.Create(filepath.Join(*dataDir, "dynamodb-local.log"))
		if err != nil {
			return err
		}
		defer logFile.Close()
		srv, err := ddblocal.Start(ctx, ddblocal.Options{Addr: *ddbAddr, DataDir: filepath.Join(*dataDir, "dynamodb"), Log: logFile})
		if err != nil {
			return err
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
	}
	db := ddblocal.Client(endpoint)
	if err := dynamo.EnsureTable(ctx, db, *table); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *evFile == "" {
		*evFile = filepath.Join(*dataDir, "events.jsonl")
	}
	evCtx, stopEvents := context.WithCancel(ctx)
	waitEvents, err := events.StartLocal(evCtx, db, events.LocalOptions{DynamoDBEndpoint: endpoint, Table: *table,
		File: *evFile, EventBridge: *evEndpoint, Bus: *evBus, Checkpoint: filepath.Join(*dataDir, "events.checkpoint"),
		Mapper: events.Mapper{IncludeResource: true, BaseURL: "http://" + ln.Addr().String() + "/scim/v2"}, Log: slog.Default()})
	if err != nil {
		stopEvents()
		return err
	}
	defer waitEvents()
	defer stopEvents()

	tmpl, err := samtemplate.Load(*templatePath)
	if err != nil {
		return err
	}
	// The functions' client has their retries and timeouts (the events
	// reader keeps its own).
	fdb := dynamodb.New(db.Options(), gateway.DynamoDBOptions)
	functions := gateway.Handlers(gateway.Resources(dynamo.NewUserStore(fdb, *table), dynamo.NewGroupStore(fdb, *table)), gateway.WithLogger(logger), gateway.WithMetricsNamespace(namespace))
	timeouts, err := localapi.FunctionTimeouts(tmpl)
	if err != nil {
		return err
	}
	if *fnTimeout > 0 {
		for id := range timeouts {
			timeouts[id] = *fnTimeout
		}
	}
	auth, devKey, err := newAuthorizer(*dataDir, *keyTTL, authorizer.WithLogger(logger), authorizer.WithMetricsNamespace(namespace))
	if err != nil {
		return err
	}
	api, err := localapi.New(localapi.Config{Routes: tmpl.Routes, Functions: functions, Authorizer: auth, AuthorizerTTL: *authTTL,
		Timeouts: timeouts, IntegrationTimeout: gateway.IntegrationTimeout})
	if err != nil {
		return err
	}

	server := newServer(api, edgeLimits)
	fmt.Fprintf(out, "SCIM base URL: http://%s/scim/v2\n", ln.Addr())
	fmt.Fprintf(out, "DynamoDB Local: %s (table %s)\n", endpoint, *table)
	if *evEndpoint == "" {
		fmt.Fprintf(out, "Change events: %s\n", *evFile)
	}
	fmt.Fprintf(out, "Bearer key (tenant default, also in %s): %s\n", filepath.Join(*dataDir, "dev-key"), devKey)
	fmt.Fprintf(out, "Try: curl -H \"Authorization: Bearer $(cat %s)\" http://%s/scim/v2/Users\n", filepath.Join(*dataDir, "dev-key"), ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdown)
}

// limits bound what one connection may take of the local server: slow or
// oversized requests are cut off at the edge, as API Gateway's are, instead
// of holding a goroutine and its memory for as long as a client likes.
type limits struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included.
	Read time.Duration
	// Write bounds the whole exchange after the headers: body, authorizer,
	// function and response. It is above Read plus the longest function
	// timeout (29 s, template.yaml), so a slow function gets the local API's
	// answer rather than a connection closed mid-response.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests.
	Idle time.Duration
	// HeaderBytes caps the request line and headers together: a REST API
	// takes a URL and header values of up to 10,240 bytes each.
	HeaderBytes int
}

// edgeLimits are the local server's limits.
var edgeLimits = limits{
	ReadHeader:  10 * time.Second,
	Read:        30 * time.Second,
	Write:       60 * time.Second,
	Idle:        60 * time.Second,
	HeaderBytes: 20 << 10,
}

// newServer returns the HTTP server of the local API h under l.
func newServer(h http.Handler, l limits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.HeaderBytes,
	}
}
