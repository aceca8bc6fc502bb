package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
)

// exitProblems is the exit code of a check that found problems (1 is a
// check that could not run).
const exitProblems = 3

// errProblems is a check that ran and found problems (already printed).
var errProblems = errors.New("the table breaks its invariants")

// checkOptions are the flags of 'scimctl check'.
type checkOptions struct {
	table, tenant, endpoint, region string
	pageSize, maxProblems           int
	pause                           time.Duration
	confirm                         bool
}

// runCheck is 'scimctl check': dynamo.Check on a table, its problems on
// stdout (one a line), the summary on stderr.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := checkOptions{}
	fs := flag.NewFlagSet("scimctl check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.table, "table", "", "")
	fs.StringVar(&o.tenant, "tenant", "", "")
	fs.StringVar(&o.endpoint, "endpoint", "", "")
	fs.StringVar(&o.region, "region", "", "")
	fs.IntVar(&o.pageSize, "page-size", 0, "")
	fs.DurationVar(&o.pause, "pause", 0, "")
	fs.IntVar(&o.maxProblems, "max-problems", 0, "")
	fs.BoolVar(&o.confirm, "confirm", true, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usagef("check takes no arguments, got %q", fs.Args())
	case o.table == "":
		return usagef("check needs --table (the stack output DirectoryTableName)")
	case o.tenant != "" && !keys.ValidTenant(o.tenant):
		return usagef("invalid --tenant %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", o.tenant)
	case o.pageSize < 0 || o.pageSize > 1<<20 || o.pause < 0 || o.maxProblems < 0:
		return usagef("--page-size, --pause and --max-problems cannot be negative")
	}
	db, err := dynamoClient(ctx, o.endpoint, o.region)
	if err != nil {
		return err
	}
	started := time.Now()
	rep, err := dynamo.Check(ctx, db, o.table, dynamo.CheckOptions{
		Tenant: o.tenant, PageSize: int32(o.pageSize), Pause: o.pause, MaxProblems: o.maxProblems, Confirm: o.confirm,
	})
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p.String())
	}
	what := fmt.Sprintf("every tenant (%d)", rep.Tenants)
	if o.tenant != "" {
		what = "tenant " + o.tenant
	}
	total := 0
	var counts []string
	for _, k := range slices.Sorted(maps.Keys(rep.Items)) {
		total += rep.Items[k]
		counts = append(counts, fmt.Sprintf("%s %d", k, rep.Items[k]))
	}
	fmt.Fprintf(stderr, "Checked table %s, %s: %d items in %d calls, %.1f read capacity units, %v.\n",
		o.table, what, total, rep.Calls, rep.ReadUnits, time.Since(started).Round(time.Millisecond))
	if len(counts) > 0 {
		fmt.Fprintf(stderr, "Items: %s.\n", strings.Join(counts, ", "))
	}
	if rep.Transient > 0 {
		fmt.Fprintf(stderr, "%d problem(s) of the first read were gone when their tenants were read again (writes in flight).\n", rep.Transient)
	}
	if rep.OK() {
		fmt.Fprintln(stderr, "No problem found.")
		return nil
	}
	n := len(rep.Problems) + rep.MoreProblems
	if rep.MoreProblems > 0 {
		fmt.Fprintf(stderr, "%d problem(s), the first %d listed above (--max-problems).\n", n, len(rep.Problems))
	} else {
		fmt.Fprintf(stderr, "%d problem(s), listed above.\n", n)
	}
	if !o.confirm {
		fmt.Fprintln(stderr, "A table written during the check may show writes in flight: check again, or use --confirm.")
	}
	return errProblems
}

// dynamoClient returns a DynamoDB client from the default AWS configuration
// (environment, shared config, IAM role); endpoint replaces the service's
// endpoint and region the configured region. A loopback endpoint is
// DynamoDB Local, which takes any credentials: fixed ones are used, so
// real ones are never sent there.
func dynamoClient(ctx context.Context, endpoint, region string) (*dynamodb.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	local := false
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return nil, usagef("invalid --endpoint %q: want a URL such as http://127.0.0.1:8000", endpoint)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			local = true
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" && endpoint != "" {
		cfg.Region = "us-east-1"
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if local {
			o.DisableValidateResponseChecksum = true // DynamoDB Local's errors carry no CRC32
		}
	}), nil
}
