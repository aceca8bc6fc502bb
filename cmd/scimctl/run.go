package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/keyfile"
	"github.com/serverless-scim/serverless-scim/internal/keys/secretstore"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `scimctl manages the API keys that IdPs (Okta, Entra ID) use to call serverless-scim,
and checks the directory table.

Usage:
  scimctl keys create --tenant TENANT [--expires WHEN] [--description TEXT] [STORE]
  scimctl keys create --tenants-file FILE [--expires WHEN] [--description TEXT] [STORE]
  scimctl keys list   [--tenant TENANT] [STORE]
  scimctl keys revoke [STORE] KEY_ID
  scimctl keys purge  [--tenant TENANT] [--older-than AGE] [STORE]
  scimctl keys migrate [STORE]
  scimctl check --table TABLE [--tenant TENANT] [--endpoint URL] [--region REGION]
                [--page-size N] [--pause D] [--max-problems N] [--confirm=false]
  scimctl table migrate-groups --table NAME [--endpoint URL]

  create  makes a key for TENANT and prints it once, alone on stdout, so that
          KEY=$(scimctl keys create --tenant acme) works. Only its hash is
          stored: copy it into the IdP now, it cannot be shown again.
          With --tenants-file, makes one key per line of FILE (a tenant; "-"
          reads stdin; blank lines and lines starting with # are skipped) and
          prints "TENANT<TAB>KEY" lines, writing hundreds of keys per store
          write: use it to onboard many tenants at once.
  list    shows id, tenant, status, dates and description of every key
          (never a key or its hash).
  revoke  stops KEY_ID from working. On AWS, API Gateway may keep accepting
          it for up to 5 minutes from its cache: see docs/keys.md to flush it.
  purge   removes revoked and expired keys from the store (they stay refused)
          and prints them; --older-than keeps those revoked or expired more
          recently than AGE (e.g. 30d).
  migrate converts a key set of the single-secret layout (releases before
          sharding) to the sharded one; its keys keep working. Run it once,
          after deploying the stack of this release.
  check   reads the directory table (one tenant's items, or with no
          --tenant every item: a Scan) and lists every item that breaks the
          table's invariants (id and externalId pointers, bucket counters,
          memberships), one a line on stdout; it only reads. Its cost is
          about one read capacity unit per 4 KB of items read
          (docs/operations.md, "Checking the table").
  table migrate-groups
          moves the users' group ids from their id pointers onto their
          items in table NAME (releases before this one kept them on the
          pointers; docs/deploy.md). Run it once, right after deploying;
          a second run does nothing. --endpoint: DynamoDB endpoint
          (default $SCIM_DYNAMODB_ENDPOINT, else AWS); uses your AWS
          credentials and region.

Options:
  --tenant TENANT      tenant the key acts on: 1-64 letters, digits, '.', '_'
                       or '-', starting with a letter or digit
  --tenants-file FILE  create one key per tenant listed in FILE
  --expires WHEN       when the key stops working: a date (2027-01-31, at
                       00:00 UTC), an RFC 3339 time, or a duration from now
                       (90d, 12h); default: never
  --description TEXT   a note for admins, e.g. "Okta production"
  --older-than AGE     purge only keys revoked or expired at least AGE ago

STORE (where the key set lives; default: the local files of make run):
  --keys-file PATH     local key file (default .data/keys.json; shards in
                       .data/keys.d/)
  --secret NAME|ARN    Secrets Manager secret of a deployed stack (stack
                       output ApiKeysSecretArn); its shards are the secrets
                       <ARN's last part>/<n>; uses your AWS credentials
  --endpoint URL       Secrets Manager endpoint, e.g. a local moto_server
                       (default: $AWS_ENDPOINT_URL, else AWS)
  --region REGION      AWS region (default: $AWS_REGION / AWS config)

CHECK options:
  --table TABLE        the table (stack output DirectoryTableName)
  --tenant TENANT      check only this tenant's items (a Query)
  --endpoint URL       DynamoDB endpoint, e.g. DynamoDB Local's
                       http://127.0.0.1:8000 under make run (default: AWS)
  --region REGION      AWS region (default: $AWS_REGION / AWS config)
  --page-size N        items per Query or Scan call (default: 1 MB of them)
  --pause D            wait D (e.g. 200ms) between calls, to leave
                       throughput to the service
  --max-problems N     list at most N problems (default 1000), count the rest
  --confirm=false      report what the first read found; by default each
                       tenant with a problem is read again and only the
                       problems found twice are reported (a table in use
                       shows writes in flight)

Examples:
  scimctl keys create --tenant acme --description "Okta production"
  KEY=$(scimctl keys create --tenant acme --expires 90d --secret serverless-scim/api-keys)
  scimctl keys list --secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:scim-keys-AbCdEf
  scimctl keys revoke 4TqQ0bX9mZc2
  scimctl keys purge --older-than 30d --secret "$SECRET"
  scimctl check --table scim-local --endpoint http://127.0.0.1:8000
  scimctl check --table "$TABLE" --tenant acme --page-size 500 --pause 100ms

Exit status: 0 success, 1 failure, 2 usage error, 3 check found problems.
`

// errUsage marks errors in the command line.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, a ...any) error { return errUsage{fmt.Sprintf(format, a...)} }

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	err := dispatch(ctx, args, stdout, stderr, getenv)
	var ue errUsage
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.Is(err, errProblems):
		return exitProblems
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "scimctl: %s\nRun 'scimctl --help' for usage.\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "scimctl: %v\n", err)
		return exitFailure
	}
}

// options holds every flag; each subcommand uses some.
type options struct {
	tenant, expires, description string
	tenantsFile, olderThan       string
	keysFile, secret, endpoint   string
	region                       string
	positional                   []string
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usagef("no command given")
	}
	if isHelp(args[0]) || args[0] == "help" {
		return flag.ErrHelp
	}
	if args[0] == "check" {
		return runCheck(ctx, args[1:], stdout, stderr)
	}
	if args[0] == "table" {
		return tableCommand(ctx, args[1:], stdout, stderr, getenv)
	}
	if args[0] != "keys" {
		return usagef("unknown command %q (want 'keys', 'check' or 'table')", args[0])
	}
	if len(args) < 2 {
		return usagef("'keys' needs a subcommand: create, list, revoke, purge or migrate")
	}
	if isHelp(args[1]) {
		return flag.ErrHelp
	}
	sub := args[1]
	o, err := parseFlags(sub, args[2:])
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	switch sub {
	case "create":
		if (o.tenant == "") == (o.tenantsFile == "") {
			return usagef("keys create needs --tenant or --tenants-file (one of them)")
		}
		if len(o.positional) > 0 {
			return usagef("keys create takes no arguments, got %q", o.positional)
		}
		proto := keys.NewKey{Description: o.description}
		if o.expires != "" {
			exp, err := parseExpiry(o.expires, now)
			if err != nil {
				return err
			}
			if !exp.After(now) {
				return usagef("--expires %q is not in the future", o.expires)
			}
			proto.Expires = &exp
		}
		var nks []keys.NewKey
		if o.tenantsFile != "" {
			tenants, err := readTenants(o.tenantsFile, os.Stdin)
			if err != nil {
				return err
			}
			for _, t := range tenants {
				nk := proto
				nk.Tenant = t
				nks = append(nks, nk)
			}
		} else {
			if !keys.ValidTenant(o.tenant) {
				return usagef("invalid --tenant %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", o.tenant)
			}
			proto.Tenant = o.tenant
			nks = []keys.NewKey{proto}
		}
		st, where, err := openStore(ctx, o, getenv)
		if err != nil {
			return err
		}
		made, err := keys.CreateMany(ctx, st, nks, now)
		if errors.Is(err, keys.ErrNeedsMigration) && o.secret == "" {
			// Locally there is no older authorizer to keep working.
			if _, err = keys.Migrate(ctx, st); err == nil {
				made, err = keys.CreateMany(ctx, st, nks, now)
			}
		}
		if o.tenantsFile == "" {
			if err != nil {
				return err
			}
			rec := made[0].Record
			fmt.Fprintln(stdout, made[0].Key.String())
			exp := "never expires"
			if rec.Expires != nil {
				exp = "expires " + rec.Expires.Format(time.RFC3339)
			}
			fmt.Fprintf(stderr, "Created key %s for tenant %s in %s (%s).\nThe key above is shown only once: paste it into the IdP as the Bearer token now.\n", rec.ID, rec.Tenant, where, exp)
			return nil
		}
		for _, c := range made {
			fmt.Fprintf(stdout, "%s\t%s\n", c.Record.Tenant, c.Key.String())
		}
		fmt.Fprintf(stderr, "Created %d of %d key(s) in %s. The keys above are shown only once.\n", len(made), len(nks), where)
		return err
	case "list":
		if len(o.positional) > 0 {
			return usagef("keys list takes no arguments, got %q", o.positional)
		}
		st, where, err := openStore(ctx, o, getenv)
		if err != nil {
			return err
		}
		set, err := keys.LoadAll(ctx, st)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tSTATUS\tCREATED\tEXPIRES\tDESCRIPTION")
		n := 0
		for _, r := range set.Keys {
			if o.tenant != "" && r.Tenant != o.tenant {
				continue
			}
			n++
			exp := "-"
			if r.Expires != nil {
				exp = r.Expires.Format(time.RFC3339)
			}
			desc := strings.Map(func(r rune) rune { // keep the table one line per key
				if r < ' ' {
					return ' '
				}
				return r
			}, r.Description)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Tenant, r.Status(now), r.Created.Format(time.RFC3339), exp, desc)
		}
		tw.Flush()
		layout := fmt.Sprintf("%d shard(s)", set.Shards)
		if set.Version < 2 {
			layout = "single-secret layout: run 'scimctl keys migrate' once the stack runs this release"
		}
		fmt.Fprintf(stderr, "%d key(s) in %s (%s).\n", n, where, layout)
		return nil
	case "revoke":
		if len(o.positional) != 1 {
			return usagef("keys revoke needs exactly one KEY_ID (see 'scimctl keys list')")
		}
		id := o.positional[0]
		st, where, err := openStore(ctx, o, getenv)
		if err != nil {
			return err
		}
		rec, err := keys.Revoke(ctx, st, id, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Revoked key %s of tenant %s in %s at %s.\n", rec.ID, rec.Tenant, where, rec.RevokedAt.Format(time.RFC3339))
		if o.secret != "" {
			fmt.Fprintln(stderr, "API Gateway may accept it from its cache for up to 5 minutes; to stop it now, flush the stage's authorizer cache (docs/keys.md).")
		}
		return nil
	case "purge":
		if len(o.positional) > 0 {
			return usagef("keys purge takes no arguments, got %q", o.positional)
		}
		opt := keys.PurgeOptions{Tenant: o.tenant}
		if o.olderThan != "" {
			d, err := parseAge(o.olderThan)
			if err != nil {
				return err
			}
			opt.Before = now.Add(-d)
		}
		st, where, err := openStore(ctx, o, getenv)
		if err != nil {
			return err
		}
		removed, err := keys.Purge(ctx, st, opt, now)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, r := range removed {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Tenant, r.Status(now))
		}
		tw.Flush()
		fmt.Fprintf(stderr, "Purged %d revoked or expired key(s) from %s.\n", len(removed), where)
		return err
	case "migrate":
		if len(o.positional) > 0 {
			return usagef("keys migrate takes no arguments, got %q", o.positional)
		}
		st, where, err := openStore(ctx, o, getenv)
		if err != nil {
			return err
		}
		changed, err := keys.Migrate(ctx, st)
		if err != nil {
			return err
		}
		if changed {
			fmt.Fprintf(stderr, "Migrated %s to the sharded layout; its keys keep working, new keys go to shards.\n", where)
		} else {
			fmt.Fprintf(stderr, "%s already uses the sharded layout.\n", where)
		}
		return nil
	default:
		return usagef("unknown subcommand 'keys %s' (want create, list, revoke, purge or migrate)", sub)
	}
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

// parseFlags parses flags anywhere among args (flag stops at the first
// positional argument, so it is resumed after each one).
func parseFlags(sub string, args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("scimctl keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.tenant, "tenant", "", "")
	fs.StringVar(&o.expires, "expires", "", "")
	fs.StringVar(&o.description, "description", "", "")
	fs.StringVar(&o.keysFile, "keys-file", "", "")
	fs.StringVar(&o.secret, "secret", "", "")
	fs.StringVar(&o.endpoint, "endpoint", "", "")
	fs.StringVar(&o.region, "region", "", "")
	fs.StringVar(&o.tenantsFile, "tenants-file", "", "")
	fs.StringVar(&o.olderThan, "older-than", "", "")
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		o.positional = append(o.positional, rest[0])
		args = rest[1:]
	}
	if sub != "create" && (o.expires != "" || o.description != "" || o.tenantsFile != "") {
		return nil, usagef("--expires, --description and --tenants-file only apply to 'keys create'")
	}
	if sub != "purge" && o.olderThan != "" {
		return nil, usagef("--older-than only applies to 'keys purge'")
	}
	if o.secret != "" && o.keysFile != "" {
		return nil, usagef("use either --secret or --keys-file, not both")
	}
	if o.secret == "" && (o.endpoint != "" || o.region != "") {
		return nil, usagef("--endpoint and --region need --secret")
	}
	return o, nil
}

// openStore returns the store the options name and a description of it.
func openStore(ctx context.Context, o *options, getenv func(string) string) (keys.Sharded, string, error) {
	if o.secret == "" {
		path := o.keysFile
		if path == "" {
			path = keyfile.DefaultPath
		}
		return keyfile.New(path), "local file " + path, nil
	}
	endpoint := o.endpoint
	if endpoint == "" {
		endpoint = getenv("AWS_ENDPOINT_URL")
	}
	client, err := secretstore.NewClient(ctx, endpoint, o.region)
	if err != nil {
		return nil, "", err
	}
	return secretstore.New(client, o.secret), "secret " + o.secret, nil
}

var daysRE = regexp.MustCompile(`^([0-9]+)d$`)

// parseAge reads --older-than: a duration such as 30d or 12h (0 allowed).
func parseAge(s string) (time.Duration, error) {
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, usagef("invalid --older-than %q: use a duration such as 30d or 12h", s)
}

// readTenants reads --tenants-file: one tenant per line, "-" for stdin.
func readTenants(path string, stdin io.Reader) ([]string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var tenants []string
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !keys.ValidTenant(t) {
			return nil, usagef("%s:%d: invalid tenant %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", path, line, t)
		}
		tenants = append(tenants, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		return nil, usagef("%s lists no tenant", path)
	}
	return tenants, nil
}

// parseExpiry reads --expires: a date, an RFC 3339 time or a duration.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n > 0 && n <= 36500 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, usagef("invalid --expires %q: use a date (2027-01-31), an RFC 3339 time or a duration (90d, 12h)", s)
}
