// Command scimbench is `make bench`: the SCIM operations through the local
// API beside their DynamoDB floors, walks of a large tenant, and cold
// starts under the Lambda Runtime Interface Emulator, as one table (see
// internal/bench). It starts DynamoDB Local unless SCIM_DYNAMODB_ENDPOINT
// names one; request logs go to -log.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/serverless-scim/serverless-scim/internal/bench"
	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "scimbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := modroot.Find()
	if err != nil {
		return err
	}
	o := bench.Options{Root: root}
	flag.IntVar(&o.N, "n", 200, "runs of each operation and of its floor")
	flag.IntVar(&o.Users, "users", 10000, "users in the tenant the lists, filters and walks run on")
	flag.IntVar(&o.ColdTrials, "cold", 5, "fresh emulators per function for the cold starts (0: none)")
	logPath := flag.String("log", filepath.Join(root, ".cache", "bench", "requests.log"), "file for request logs and emulator output")
	flag.StringVar(&o.RIE, "rie", os.Getenv("SCIM_RIE"), "the Lambda Runtime Interface Emulator (make tools installs it)")
	flag.StringVar(&o.Machine, "machine", fmt.Sprintf("%d cores", runtime.NumCPU()), "what to call this machine in the header")
	flag.Parse()
	if o.ColdTrials <= 0 {
		o.RIE = ""
	}
	if o.RIE == "" && o.ColdTrials > 0 {
		if p := filepath.Join(root, ".cache", "bin", "aws-lambda-rie"); fileExists(p) {
			o.RIE = p
		} else {
			return fmt.Errorf("the Lambda Runtime Interface Emulator is not installed: run `make tools`, or -cold 0")
		}
	}
	if err := os.MkdirAll(filepath.Dir(*logPath), 0o755); err != nil {
		return err
	}
	log, err := os.Create(*logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	o.Log = log
	o.Endpoint = os.Getenv(ddblocal.EndpointEnv)
	if o.Endpoint == "" {
		srv, err := ddblocal.Start(ctx, ddblocal.Options{Log: log})
		if err != nil {
			return err
		}
		defer srv.Stop()
		o.Endpoint = srv.Endpoint
	}
	fmt.Fprintf(os.Stderr, "scimbench: %d users, %d runs per row; request logs in %s\n", o.Users, o.N, *logPath)
	return bench.Run(ctx, o, os.Stdout)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
