// Package secretstore keeps the API key set (package keys) in AWS Secrets
// Manager, one document per secret: the root in the stack's secret (the
// one scimctl --secret and API_KEYS_SECRET_ARN name) and shard n in the
// secret named <root>/<n>, where <root> is the last part of the root's ARN
// (name and random suffix, e.g. ApiKeysSecret-Ab12Cd34Ef56-XyZ123/0). Shard
// names are thus unique to the root, and IAM can grant them with one
// pattern, "<root ARN>/*". scimctl creates a shard secret when the key set
// first needs it; CloudFormation never touches shards.
//
// Secrets Manager has no conditional put, so Update makes writes safe in two
// steps: it writes the new document as a version labelled PendingStage (not
// AWSCURRENT), then moves AWSCURRENT to it with UpdateSecretVersionStage,
// naming the version it read in RemoveFromVersionId. That call fails if
// AWSCURRENT has moved since the read, i.e. if another admin wrote in
// between; Update then reads again and reapplies its change. The first
// version of a secret gets AWSCURRENT from Secrets Manager itself, and
// Update checks that it did; a shard's first version comes with
// CreateSecret, which fails if another writer created it first.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"

	"github.com/serverless-scim/serverless-scim/internal/keys"
)

const (
	// CurrentStage is the staging label Secrets Manager reads by default.
	CurrentStage = "AWSCURRENT"
	// PendingStage labels a version written by Update before it is made
	// current. It always sits on the most recent write attempt.
	PendingStage = "SCIM_PENDING"
	// defaultAttempts is how many read-modify-write rounds Update tries.
	defaultAttempts = 8
)

// API is the part of *secretsmanager.Client the store uses. The authorizer
// only ever calls GetSecretValue.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// Store is a keys.Sharded backed by Secrets Manager: the root secret and,
// through Shard, its shard secrets.
type Store struct {
	api      API
	secretID string // root: name or ARN as given
	attempts int
	shard    int    // -1 for the root
	root     *Store // for a shard, the root it belongs to

	mu   sync.Mutex
	base string // root: the last part of its ARN, once known
}

var (
	_ keys.Sharded = (*Store)(nil)
	_ API          = (*secretsmanager.Client)(nil)
)

// New returns a Store whose root is the secret named or ARN'd by secretID.
// Given an ARN (as the authorizer is), it finds the shards without any
// call; given a name, the first shard access calls DescribeSecret once.
func New(api API, secretID string) *Store {
	return &Store{api: api, secretID: secretID, attempts: defaultAttempts, shard: -1}
}

// Shard returns the Store of shard n, the secret <root>/<n>.
func (s *Store) Shard(n int) keys.Store {
	return &Store{api: s.api, attempts: s.attempts, shard: n, root: s}
}

// ShardName returns the name of shard n's secret. It calls DescribeSecret
// if the root was given by name.
func (s *Store) ShardName(ctx context.Context, n int) (string, error) {
	base, err := s.rootBase(ctx)
	if err != nil {
		return "", err
	}
	return base + "/" + strconv.Itoa(n), nil
}

// rootBase returns the last part of the root's ARN.
func (s *Store) rootBase(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base != "" {
		return s.base, nil
	}
	arn := s.secretID
	if !strings.HasPrefix(arn, "arn:") {
		out, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.secretID)})
		if err != nil {
			return "", fmt.Errorf("secretstore: describing secret %s: %w", s.secretID, err)
		}
		arn = aws.ToString(out.ARN)
	}
	_, base, ok := strings.Cut(arn, ":secret:")
	if !ok || base == "" || strings.Contains(base, ":") {
		return "", fmt.Errorf("secretstore: %q is not a Secrets Manager secret ARN", arn)
	}
	s.base = base
	return base, nil
}

// id returns the SecretId to call with.
func (s *Store) id(ctx context.Context) (string, error) {
	if s.root == nil {
		return s.secretID, nil
	}
	return s.root.ShardName(ctx, s.shard)
}

// Bounds limit how long one Secrets Manager call can take: each HTTP
// attempt (connecting, TLS, sending and reading the whole reply) and how
// many attempts the SDK's retryer makes, with what backoff between them.
// The caller's context deadline bounds the whole call on top; retries that
// would not fit in it are not made.
type Bounds struct {
	// Attempt bounds one HTTP attempt; 0 leaves it unbounded (the SDK's
	// default, which waits for a hung endpoint as long as the context).
	Attempt time.Duration
	// MaxAttempts is how many attempts one call makes, the first
	// included; 0 is the SDK's default (3).
	MaxAttempts int
	// MaxBackoff caps the jittered wait between attempts; 0 is the SDK's
	// default (20 s).
	MaxBackoff time.Duration
}

// AuthorizerBounds are the bounds of the authorizer's client. Healthy
// GetSecretValue calls of at most 64 KB take tens of milliseconds in
// region, so one attempt gets 600 ms and a call at most three attempts
// with up to 100 ms between them: 2 s in all, keys.DefaultLoadTimeout, the
// bound of one load. Timeouts, 5xx, throttling and refused connections are
// retried (the SDK's standard retryer).
var AuthorizerBounds = Bounds{Attempt: 600 * time.Millisecond, MaxAttempts: 3, MaxBackoff: 100 * time.Millisecond}

// ClientOption changes the client NewClient builds.
type ClientOption func(*secretsmanager.Options)

// WithBounds bounds every call of the client (see Bounds).
func WithBounds(b Bounds) ClientOption {
	return func(o *secretsmanager.Options) {
		if b.Attempt > 0 {
			o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(b.Attempt)
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			if b.MaxAttempts > 0 {
				so.MaxAttempts = b.MaxAttempts
			}
			if b.MaxBackoff > 0 {
				so.MaxBackoff = b.MaxBackoff
			}
		})
	}
}

// NewClient returns a Secrets Manager client from the default AWS
// configuration (environment, shared config, IAM role). A non-empty endpoint
// replaces the service endpoint, e.g. http://127.0.0.1:5000 for moto; a
// non-empty region overrides the configured one. With an endpoint and no
// region anywhere, us-east-1 is used so local stand-ins work without setup.
// The authorizer passes WithBounds(AuthorizerBounds).
func NewClient(ctx context.Context, endpoint, region string, opts ...ClientOption) (*secretsmanager.Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("secretstore: loading AWS configuration: %w", err)
	}
	if cfg.Region == "" && endpoint != "" {
		cfg.Region = "us-east-1"
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		for _, opt := range opts {
			opt(o)
		}
	}), nil
}

// NewAuthorizerStore returns the Store the authorizer reads: the root
// secret secretARN through a client from NewClient with AuthorizerBounds
// (endpoint as for NewClient, "" for AWS's). functions/authorizer and the
// fault tests build it with this one call, so they test what runs.
func NewAuthorizerStore(ctx context.Context, endpoint, secretARN string) (*Store, error) {
	client, err := NewClient(ctx, endpoint, "", WithBounds(AuthorizerBounds))
	if err != nil {
		return nil, err
	}
	return New(client, secretARN), nil
}

// Load reads the AWSCURRENT version of the secret. A shard secret that does
// not exist and a root secret without a value are errors wrapping
// keys.ErrNoDocument; a missing root secret and a malformed document
// (keys.ErrInvalid) are errors too. The authorizer answers all of them with a
// 5xx, not a 401.
func (s *Store) Load(ctx context.Context) (*keys.Set, error) {
	id, err := s.id(ctx)
	if err != nil {
		return nil, err
	}
	_, set, err := s.read(ctx, id)
	return set, err
}

// read returns the AWSCURRENT version id and its decoded document.
func (s *Store) read(ctx context.Context, id string) (string, *keys.Set, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(id),
		VersionStage: aws.String(CurrentStage), // moto's default is not always AWSCURRENT
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) && (s.root != nil || s.exists(ctx)) {
			return "", nil, fmt.Errorf("secretstore: reading secret %s: %w: %w", id, keys.ErrNoDocument, err)
		}
		return "", nil, fmt.Errorf("secretstore: reading secret %s: %w", id, err)
	}
	if out.SecretString == nil {
		return "", nil, fmt.Errorf("secretstore: secret %s: %w: not a string secret", id, keys.ErrInvalid)
	}
	set, err := keys.Decode([]byte(*out.SecretString))
	if err != nil {
		return "", nil, fmt.Errorf("secretstore: secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), set, nil
}

// exists tells a root secret without a value (a key set not written yet)
// from a missing one (a wrong --secret), which must not get shards. Only
// called after GetSecretValue found nothing.
func (s *Store) exists(ctx context.Context) bool {
	_, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.secretID)})
	return err == nil
}

// checkSize refuses what Secrets Manager would refuse: a SecretString over
// 65,536 bytes. Stand-ins such as moto accept more, so the limit is kept
// here, before any call.
func checkSize(id string, doc []byte) error {
	if len(doc) > keys.MaxDocBytes {
		return fmt.Errorf("secretstore: secret %s: %w (%d bytes)", id, keys.ErrTooLarge, len(doc))
	}
	return nil
}

// Update implements keys.Store; see the package comment for how concurrent
// writers are detected. It needs secretsmanager:GetSecretValue,
// PutSecretValue and UpdateSecretVersionStage on the secret, and for a
// shard that does not exist yet CreateSecret (and DescribeSecret on the
// root if it was given by name).
func (s *Store) Update(ctx context.Context, fn func(*keys.Set) error) (*keys.Set, error) {
	id, err := s.id(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := range s.attempts {
		if attempt > 0 {
			// Jittered backoff so two writers that collided do not
			// collide again in lock step.
			d := time.Duration(rand.Int64N(int64(50*time.Millisecond) << min(attempt, 4)))
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		cur, set, err := s.read(ctx, id)
		if errors.Is(err, keys.ErrNoDocument) {
			cur, set, err = "", &keys.Set{Version: keys.FormatVersion}, nil
		}
		if err != nil {
			return nil, err
		}
		doc, err := set.Apply(fn)
		if err != nil {
			return nil, err
		}
		if err := checkSize(id, doc); err != nil {
			return nil, err
		}
		version := uuid.NewString()
		put, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(id),
			SecretString:       aws.String(string(doc)),
			ClientRequestToken: aws.String(version),
			VersionStages:      []string{PendingStage},
		})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) && s.root != nil && cur == "" {
			created, cerr := s.create(ctx, id, doc, version)
			if cerr != nil {
				return nil, cerr
			}
			if created {
				return set, nil
			}
			continue // another writer created it first: read it
		}
		if err != nil {
			return nil, fmt.Errorf("secretstore: writing secret %s: %w", id, err)
		}
		if cur == "" {
			// The first version of a secret is made current by
			// Secrets Manager itself; if it was not, another writer
			// got there first.
			if slices.Contains(put.VersionStages, CurrentStage) {
				return set, nil
			}
			continue
		}
		_, err = s.api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:            aws.String(id),
			VersionStage:        aws.String(CurrentStage),
			MoveToVersionId:     aws.String(version),
			RemoveFromVersionId: aws.String(cur),
		})
		if err == nil {
			return set, nil
		}
		// Tell a lost race (AWSCURRENT moved) from a real failure.
		now, _, rerr := s.read(ctx, id)
		if rerr == nil && now == version {
			return set, nil // it worked; only the answer was lost
		}
		if rerr == nil && now != cur {
			continue
		}
		return nil, fmt.Errorf("secretstore: making version %s current: %w", version, err)
	}
	return nil, fmt.Errorf("secretstore: secret %s: %w (%d attempts)", id, keys.ErrConflict, s.attempts)
}

// create makes a shard's secret with doc as its first (current) value. It
// reports false if the secret already exists.
func (s *Store) create(ctx context.Context, name string, doc []byte, version string) (bool, error) {
	_, err := s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		SecretString:       aws.String(string(doc)),
		ClientRequestToken: aws.String(version),
		Description:        aws.String(fmt.Sprintf("serverless-scim API key hashes, shard %d (managed with scimctl)", s.shard)),
	})
	var exists *types.ResourceExistsException
	if errors.As(err, &exists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("secretstore: creating secret %s: %w", name, err)
	}
	return true, nil
}
