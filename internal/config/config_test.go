package config_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadScim(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config.Scim
		errs []string // substrings the error must hold; nil means no error
	}{
		{
			name: "only the required variable: defaults for the rest",
			env:  map[string]string{"TABLE_NAME": "users"},
			want: config.Scim{TableName: "users", PasswordPolicy: "ignore", Telemetry: config.Telemetry{LogLevel: slog.LevelInfo, MetricsNamespace: "ServerlessScim"}},
		},
		{
			name: "every variable set",
			env: map[string]string{"TABLE_NAME": "users", "SCIM_DYNAMODB_ENDPOINT": "http://127.0.0.1:8000",
				"PASSWORD_POLICY": "Hash", "LOG_LEVEL": "debug", "METRICS_NAMESPACE": "Scim/Staging"},
			want: config.Scim{TableName: "users", DynamoDBEndpoint: "http://127.0.0.1:8000", PasswordPolicy: "hash",
				Telemetry: config.Telemetry{LogLevel: slog.LevelDebug, MetricsNamespace: "Scim/Staging"}},
		},
		{
			name: "an empty variable counts as unset",
			env:  map[string]string{"TABLE_NAME": "users", "LOG_LEVEL": "", "METRICS_NAMESPACE": "", "PASSWORD_POLICY": ""},
			want: config.Scim{TableName: "users", PasswordPolicy: "ignore", Telemetry: config.Telemetry{LogLevel: slog.LevelInfo, MetricsNamespace: "ServerlessScim"}},
		},
		{
			name: "missing required variable",
			env:  map[string]string{},
			errs: []string{"TABLE_NAME is required"},
		},
		{
			name: "empty required variable",
			env:  map[string]string{"TABLE_NAME": ""},
			errs: []string{"TABLE_NAME is required"},
		},
		{
			name: "malformed log level",
			env:  map[string]string{"TABLE_NAME": "users", "LOG_LEVEL": "loud"},
			errs: []string{`LOG_LEVEL="loud"`, "not a log level"},
		},
		{
			name: "unknown password policy",
			env:  map[string]string{"TABLE_NAME": "users", "PASSWORD_POLICY": "plaintext"},
			errs: []string{`PASSWORD_POLICY="plaintext"`, "not a password policy"},
		},
		{
			name: "every problem is reported at once",
			env:  map[string]string{"LOG_LEVEL": "loud"},
			errs: []string{"TABLE_NAME is required", `LOG_LEVEL="loud"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got config.Scim
			err := config.LoadFrom(&got, env(tc.env))
			checkErr(t, err, tc.errs)
			if tc.errs == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoadAuthorizer(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config.Authorizer
		errs []string
	}{
		{
			name: "defaults",
			env:  map[string]string{"API_KEYS_SECRET_ARN": arn},
			want: config.Authorizer{SecretARN: arn, CacheTTL: 60 * time.Second,
				Telemetry: config.Telemetry{LogLevel: slog.LevelInfo, MetricsNamespace: "ServerlessScim"}},
		},
		{
			name: "every variable set",
			env: map[string]string{"API_KEYS_SECRET_ARN": arn, "SECRETSMANAGER_ENDPOINT": "http://127.0.0.1:5000",
				"API_KEYS_CACHE_TTL": "5m", "LOG_LEVEL": "WARN", "METRICS_NAMESPACE": "X"},
			want: config.Authorizer{SecretARN: arn, SecretsManagerEndpoint: "http://127.0.0.1:5000", CacheTTL: 5 * time.Minute,
				Telemetry: config.Telemetry{LogLevel: slog.LevelWarn, MetricsNamespace: "X"}},
		},
		{
			name: "missing secret",
			env:  map[string]string{"API_KEYS_CACHE_TTL": "60s"},
			errs: []string{"API_KEYS_SECRET_ARN is required"},
		},
		{
			// It used to be ignored silently, leaving the 60s default.
			name: "malformed TTL",
			env:  map[string]string{"API_KEYS_SECRET_ARN": arn, "API_KEYS_CACHE_TTL": "abc"},
			errs: []string{`API_KEYS_CACHE_TTL="abc"`, "not a duration"},
		},
		{
			name: "a TTL without a unit",
			env:  map[string]string{"API_KEYS_SECRET_ARN": arn, "API_KEYS_CACHE_TTL": "60"},
			errs: []string{`API_KEYS_CACHE_TTL="60"`},
		},
		{
			name: "negative TTL",
			env:  map[string]string{"API_KEYS_SECRET_ARN": arn, "API_KEYS_CACHE_TTL": "-1s"},
			errs: []string{"API_KEYS_CACHE_TTL", "negative"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got config.Authorizer
			err := config.LoadFrom(&got, env(tc.env))
			checkErr(t, err, tc.errs)
			if tc.errs == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one holding %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not hold %q", err, w)
		}
	}
}

func TestLoadRejectsWhatItCannotFill(t *testing.T) {
	t.Parallel()
	var notPointer config.Scim
	if err := config.LoadFrom(notPointer, env(nil)); err == nil {
		t.Error("a struct value (not a pointer) was accepted")
	}
	var unsupported struct {
		N int `env:"N" default:"1"`
	}
	if err := config.LoadFrom(&unsupported, env(nil)); err == nil || !strings.Contains(err.Error(), "N=") {
		t.Errorf("a field of unsupported type: err = %v, want one naming N", err)
	}
}

func TestLoadReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("TABLE_NAME", "from-env")
	t.Setenv("LOG_LEVEL", "error")
	var cfg config.Scim
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.TableName != "from-env" || cfg.LogLevel != slog.LevelError {
		t.Errorf("got %+v", cfg)
	}
}

func TestConstantsMatchTheTags(t *testing.T) {
	t.Parallel()
	vars := map[string]config.Variable{}
	for _, v := range config.Variables(&config.Scim{}) {
		vars[v.Name] = v
	}
	if _, ok := vars[config.DynamoDBEndpointEnv]; !ok {
		t.Errorf("Scim reads no %s", config.DynamoDBEndpointEnv)
	}
	if got := vars["METRICS_NAMESPACE"].Default; got != config.DefaultMetricsNamespace {
		t.Errorf("METRICS_NAMESPACE defaults to %q, DefaultMetricsNamespace is %q", got, config.DefaultMetricsNamespace)
	}
	want := []config.Variable{
		{Name: "TABLE_NAME", Required: true}, {Name: "SCIM_DYNAMODB_ENDPOINT"}, {Name: "PASSWORD_POLICY", Default: "ignore"},
		{Name: "LOG_LEVEL", Default: "INFO"}, {Name: "METRICS_NAMESPACE", Default: "ServerlessScim"},
	}
	if got := config.Variables(&config.Scim{}); !reflect.DeepEqual(got, want) {
		t.Errorf("Variables(Scim) = %+v, want %+v", got, want)
	}
}

// The tables in the package doc and docs/configuration.md are the list of
// every variable: each must have a row, with its default.
func TestEveryVariableIsDocumented(t *testing.T) {
	t.Parallel()
	docs := map[string]string{"config.go": "config.go", "docs/configuration.md": filepath.Join("..", "..", "docs", "configuration.md")}
	for name, path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string][]string{}
		for _, line := range strings.Split(string(b), "\n") {
			cells := strings.Split(line, "|")
			if len(cells) < 5 {
				continue
			}
			for i := range cells {
				cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
			}
			rows[cells[1]] = cells
		}
		for _, cfg := range []any{&config.Scim{}, &config.Authorizer{}, &config.Events{}} {
			for _, v := range config.Variables(cfg) {
				row, ok := rows[v.Name]
				if !ok {
					t.Errorf("%s has no row for %s", name, v.Name)
					continue
				}
				want := v.Default
				switch {
				case v.Required:
					want = "(required)"
				case want == "":
					want = "(AWS)"
				}
				if row[3] != want {
					t.Errorf("%s: %s default %q, want %q", name, v.Name, row[3], want)
				}
			}
		}
	}
}
