// Command ddblocal starts DynamoDB Local in memory on a free loopback port,
// runs a command with SCIM_DYNAMODB_ENDPOINT pointing at it, stops it, and
// exits with the command's status. `make test` runs the test suite under it
// so that one DynamoDB Local serves every test package.
//
//	go run ./cmd/ddblocal -- go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/serverless-scim/serverless-scim/internal/local/ddblocal"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: ddblocal -- command [args...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddblocal:", err)
		return 1
	}
	defer srv.Stop()
	fmt.Fprintln(os.Stderr, "ddblocal: DynamoDB Local at", srv.Endpoint)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), ddblocal.EndpointEnv+"="+srv.Endpoint)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "ddblocal:", err)
		return 1
	}
	return 0
}
