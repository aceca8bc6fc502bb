// Package secretstore keeps the API key set (package keys) in one AWS Secrets
// Manager secret, as the JSON document keys.Set.
//
// Secrets Manager has no conditional put, so Update makes writes safe in two
// steps: it writes the new document as a version labelled PendingStage (not
// AWSCURRENT), then moves AWSCURRENT to it with UpdateSecretVersionStage,
// naming the version it read in RemoveFromVersionId. That call fails if
// AWSCURRENT has moved since the read, i.e. if another admin wrote in
// between; Update then reads again and reapplies its change. The first
// version of a secret gets AWSCURRENT from Secrets Manager itself, and
// Update checks that it did.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// API is the part of *secretsmanager.Client the store uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// Store is a keys.Store backed by one secret.
type Store struct {
	api      API
	secretID string
	attempts int
}

var _ keys.Store = (*Store)(nil)

// New returns a Store for the secret named or ARN'd by secretID.
func New(api API, secretID string) *Store {
	return &Store{api: api, secretID: secretID, attempts: defaultAttempts}
}

// NewClient returns a Secrets Manager client from the default AWS
// configuration (environment, shared config, IAM role). A non-empty endpoint
// replaces the service endpoint, e.g. http://127.0.0.1:5000 for moto; a
// non-empty region overrides the configured one. With an endpoint and no
// region anywhere, us-east-1 is used so local stand-ins work without setup.
func NewClient(ctx context.Context, endpoint, region string) (*secretsmanager.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
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
	}), nil
}

// Load reads the AWSCURRENT version of the secret. A missing secret, a secret
// without a value and a malformed document are all errors: the authorizer
// must answer 5xx for them, not 401.
func (s *Store) Load(ctx context.Context) (*keys.Set, error) {
	_, set, err := s.read(ctx)
	return set, err
}

// errNoValue means the secret exists (or may exist) but has no AWSCURRENT
// version yet.
var errNoValue = errors.New("secret has no current value")

// read returns the AWSCURRENT version id and its decoded document.
func (s *Store) read(ctx context.Context) (string, *keys.Set, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(s.secretID),
		VersionStage: aws.String(CurrentStage), // moto's default is not always AWSCURRENT
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", nil, fmt.Errorf("secretstore: reading secret %s: %w: %w", s.secretID, errNoValue, err)
		}
		return "", nil, fmt.Errorf("secretstore: reading secret %s: %w", s.secretID, err)
	}
	if out.SecretString == nil {
		return "", nil, fmt.Errorf("secretstore: secret %s: %w: not a string secret", s.secretID, keys.ErrInvalid)
	}
	set, err := keys.Decode([]byte(*out.SecretString))
	if err != nil {
		return "", nil, fmt.Errorf("secretstore: secret %s: %w", s.secretID, err)
	}
	return aws.ToString(out.VersionId), set, nil
}

// Update implements keys.Store; see the package comment for how concurrent
// writers are detected. It needs secretsmanager:GetSecretValue,
// PutSecretValue and UpdateSecretVersionStage on the secret.
func (s *Store) Update(ctx context.Context, fn func(*keys.Set) error) (*keys.Set, error) {
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
		cur, set, err := s.read(ctx)
		if errors.Is(err, errNoValue) {
			cur, set, err = "", &keys.Set{Version: keys.FormatVersion}, nil
		}
		if err != nil {
			return nil, err
		}
		doc, err := set.Apply(fn)
		if err != nil {
			return nil, err
		}
		version := uuid.NewString()
		put, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(s.secretID),
			SecretString:       aws.String(string(doc)),
			ClientRequestToken: aws.String(version),
			VersionStages:      []string{PendingStage},
		})
		if err != nil {
			return nil, fmt.Errorf("secretstore: writing secret %s: %w", s.secretID, err)
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
			SecretId:            aws.String(s.secretID),
			VersionStage:        aws.String(CurrentStage),
			MoveToVersionId:     aws.String(version),
			RemoveFromVersionId: aws.String(cur),
		})
		if err == nil {
			return set, nil
		}
		// Tell a lost race (AWSCURRENT moved) from a real failure.
		now, _, rerr := s.read(ctx)
		if rerr == nil && now == version {
			return set, nil // it worked; only the answer was lost
		}
		if rerr == nil && now != cur {
			continue
		}
		return nil, fmt.Errorf("secretstore: making version %s current: %w", version, err)
	}
	return nil, fmt.Errorf("secretstore: secret %s: %w (%d attempts)", s.secretID, keys.ErrConflict, s.attempts)
}
