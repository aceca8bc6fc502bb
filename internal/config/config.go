// Package config is the one place the functions read their environment.
// Each deployable has one struct (Scim for the five SCIM functions,
// Authorizer for the TOKEN authorizer), filled by one call to Load at cold
// start. A malformed value fails the cold start with an error naming the
// variable, rather than falling back to a default nobody asked for.
//
// Every variable, by struct (docs/configuration.md has the same table):
//
//	| Variable                | Read by    | Default        | Meaning                                                       |
//	|-------------------------|------------|----------------|---------------------------------------------------------------|
//	| TABLE_NAME              | Scim       | (required)     | the DynamoDB table of SCIM resources                          |
//	| SCIM_DYNAMODB_ENDPOINT  | Scim       | (AWS)          | a DynamoDB endpoint such as DynamoDB Local; local runs only   |
//	| PASSWORD_POLICY         | Scim       | ignore         | ignore (drop passwords) or hash (store an Argon2id hash)      |
//	| API_KEYS_SECRET_ARN     | Authorizer | (required)     | the Secrets Manager secret holding the API key set            |
//	| SECRETSMANAGER_ENDPOINT | Authorizer | (AWS)          | a Secrets Manager endpoint such as moto; local runs only      |
//	| API_KEYS_CACHE_TTL      | Authorizer | 60s            | how long the key set is cached (a Go duration; 0 = 60s)       |
//	| EVENT_BUS_NAME          | Events     | (required)     | the EventBridge bus the change events are put on              |
//	| DLQ_URL                 | Events     | (required)     | the SQS dead-letter queue of the change events                |
//	| INCLUDE_RESOURCE        | Events     | true           | true: events carry the resource; false: no personal data      |
//	| SCIM_BASE_URL           | Events     | (required)     | the SCIM base URL, for meta.location in events                |
//	| EVENTS_ENDPOINT         | Events     | (AWS)          | an EventBridge and SQS endpoint such as moto; local runs only |
//	| LOG_LEVEL               | all        | INFO           | DEBUG, INFO, WARN or ERROR (any case; e.g. WARN+2 also works) |
//	| METRICS_NAMESPACE       | all        | ServerlessScim | the CloudWatch namespace of the embedded metrics              |
//
// An empty variable counts as unset. The AWS SDK and the Lambda runtime read
// their own variables (AWS_REGION, credentials, _X_AMZN_TRACE_ID, AWS_LAMBDA_*);
// they are not listed here.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"
)

// DynamoDBEndpointEnv names the variable that points the SCIM functions at
// another DynamoDB, such as DynamoDB Local. cmd/ddblocal sets it for the
// processes it runs; production never sets it.
const DynamoDBEndpointEnv = "SCIM_DYNAMODB_ENDPOINT"

// DefaultMetricsNamespace is the CloudWatch namespace of the embedded
// metrics when METRICS_NAMESPACE is unset.
const DefaultMetricsNamespace = "ServerlessScim"

// Telemetry is what every function reads about logging and metrics, so the
// SCIM functions and the authorizer log alike.
type Telemetry struct {
	// LogLevel is the lowest level written.
	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
	// MetricsNamespace is the CloudWatch namespace of the embedded metrics.
	MetricsNamespace string `env:"METRICS_NAMESPACE" default:"ServerlessScim"`
}

// Scim is the configuration of the SCIM functions (GetFunction …
// DeleteFunction in template.yaml).
type Scim struct {
	// TableName is the DynamoDB table of SCIM resources.
	TableName string `env:"TABLE_NAME" required:"true"`
	// DynamoDBEndpoint replaces the DynamoDB endpoint (local runs only);
	// empty means AWS's.
	DynamoDBEndpoint string `env:"SCIM_DYNAMODB_ENDPOINT"`
	// PasswordPolicy is what the User service does with a password sent.
	PasswordPolicy PasswordPolicy `env:"PASSWORD_POLICY" default:"ignore"`
	Telemetry
}

// PasswordPolicy is PASSWORD_POLICY: "ignore" (a password is accepted and
// dropped, no hash computed) or "hash" (its Argon2id hash is stored), in any
// case. internal/users defines what each does.
type PasswordPolicy string

// UnmarshalText accepts "ignore" or "hash" in any case.
func (p *PasswordPolicy) UnmarshalText(b []byte) error {
	switch v := strings.ToLower(strings.TrimSpace(string(b))); v {
	case "ignore", "hash":
		*p = PasswordPolicy(v)
		return nil
	}
	return errors.New(`not a password policy (ignore or hash)`)
}

// Authorizer is the configuration of the TOKEN authorizer
// (AuthorizerFunction in template.yaml).
type Authorizer struct {
	// SecretARN names the Secrets Manager secret holding the key set.
	SecretARN string `env:"API_KEYS_SECRET_ARN" required:"true"`
	// SecretsManagerEndpoint replaces the Secrets Manager endpoint (local
	// runs only, e.g. moto); empty means AWS's.
	SecretsManagerEndpoint string `env:"SECRETSMANAGER_ENDPOINT"`
	// CacheTTL is how long the key set is cached; 0 means the cache's
	// default (60s).
	CacheTTL time.Duration `env:"API_KEYS_CACHE_TTL" default:"60s"`
	Telemetry
}

// Events is the configuration of the events function (EventsFunction in
// template.yaml, docs/events.md). Its AWS clients take local endpoints
// from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables.
type Events struct {
	// Bus is the EventBridge bus's name or ARN.
	Bus string `env:"EVENT_BUS_NAME" required:"true"`
	// DeadLetterQueueURL is the SQS dead-letter queue's URL.
	DeadLetterQueueURL string `env:"DLQ_URL" required:"true"`
	// IncludeResource is "true" (events carry the resource) or "false".
	IncludeResource string `env:"INCLUDE_RESOURCE" default:"true"`
	// BaseURL is the SCIM base URL (…/scim/v2), for meta.location.
	BaseURL string `env:"SCIM_BASE_URL" required:"true"`
	// LocalEndpoint replaces the EventBridge and SQS endpoints with one
	// stand-in, such as moto (local runs only); empty means AWS's.
	LocalEndpoint string `env:"EVENTS_ENDPOINT"`
	// DynamoDBEndpoint replaces the DynamoDB Streams endpoint (DynamoDB
	// Local serves its streams; local runs only).
	DynamoDBEndpoint string `env:"SCIM_DYNAMODB_ENDPOINT"`
	Telemetry
}

// Variable describes one environment variable of a config struct.
type Variable struct {
	// Name is the variable, e.g. TABLE_NAME.
	Name string
	// Default is the value used when it is unset ("" for none).
	Default string
	// Required is true when an unset variable fails Load.
	Required bool
}

// Load fills cfg, a pointer to one of this package's structs, from the
// process environment. See LoadFrom.
func Load(cfg any) error { return LoadFrom(cfg, os.LookupEnv) }

// LoadFrom fills cfg from lookup (os.LookupEnv in Load). Unset or empty
// variables take their default; a required variable without a value, or a
// value that does not parse, is an error naming the variable. Every problem
// is reported, not only the first.
func LoadFrom(cfg any, lookup func(string) (string, bool)) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a pointer to a struct, got %T", cfg)
	}
	var errs []error
	walk(v.Elem(), func(f reflect.Value, sf reflect.StructField) {
		name := sf.Tag.Get("env")
		raw, _ := lookup(name)
		if raw == "" {
			if sf.Tag.Get("required") == "true" {
				errs = append(errs, fmt.Errorf("config: %s is required but not set", name))
				return
			}
			raw = sf.Tag.Get("default")
		}
		if err := set(f, raw); err != nil {
			errs = append(errs, fmt.Errorf("config: %s=%q: %w", name, raw, err))
		}
	})
	return errors.Join(errs...)
}

// Variables lists the environment variables cfg (a pointer to one of this
// package's structs) is read from, in field order: what the template must
// declare and the docs must list.
func Variables(cfg any) []Variable {
	var out []Variable
	walk(reflect.ValueOf(cfg).Elem(), func(_ reflect.Value, sf reflect.StructField) {
		out = append(out, Variable{Name: sf.Tag.Get("env"), Default: sf.Tag.Get("default"), Required: sf.Tag.Get("required") == "true"})
	})
	return out
}

// walk calls fn for every field with an env tag, descending into embedded
// structs.
func walk(v reflect.Value, fn func(reflect.Value, reflect.StructField)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			walk(v.Field(i), fn)
			continue
		}
		if sf.Tag.Get("env") != "" {
			fn(v.Field(i), sf)
		}
	}
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// set parses raw into f by f's type.
func set(f reflect.Value, raw string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration (write e.g. 60s, 500ms or 5m)")
		}
		if d < 0 {
			return errors.New("a duration cannot be negative")
		}
		f.SetInt(int64(d))
		return nil
	}
	if f.Addr().Type().Implements(textUnmarshalerType) {
		if err := f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw)); err != nil {
			if f.Type() == reflect.TypeFor[slog.Level]() {
				return errors.New("not a log level (DEBUG, INFO, WARN or ERROR)")
			}
			return err
		}
		return nil
	}
	if f.Kind() != reflect.String {
		// A programming error in this package, caught by its tests.
		return fmt.Errorf("no parser for %s", f.Type())
	}
	f.SetString(raw)
	return nil
}
