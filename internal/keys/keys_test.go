package keys_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func TestDecode(t *testing.T) {
	t.Parallel()
	k, _ := apikey.Generate()
	rec := `{"id":"` + k.ID + `","tenant":"acme","hash":"` + k.Hash() + `","created":"2026-11-28T10:00:00Z"}`
	tests := []struct {
		name    string
		doc     string
		wantErr bool
		wantN   int
	}{
		{"empty", "", false, 0},
		{"blank", " \n", false, 0},
		{"empty object", "{}", false, 0},
		{"one key", `{"version":1,"revision":3,"keys":[` + rec + `]}`, false, 1},
		{"version 2 root", `{"version":2,"revision":4,"shards":3,"open":1,"keys":[` + rec + `]}`, false, 1},
		{"version 2 shard", `{"version":2,"shard":0,"keys":[` + strings.Replace(rec, k.ID, "00"+k.ID[2:], 1) + `]}`, false, 1},
		{"future version", `{"version":3,"keys":[]}`, true, 0},
		{"version 1 with shards", `{"version":1,"shards":2,"keys":[]}`, true, 0},
		{"key in the wrong shard", `{"version":2,"shard":1,"keys":[` + strings.Replace(rec, k.ID, "00"+k.ID[2:], 1) + `]}`, true, 0},
		{"shard with root fields", `{"version":2,"shard":1,"shards":2,"keys":[]}`, true, 0},
		{"open beyond shards", `{"version":2,"shards":2,"open":2,"keys":[]}`, true, 0},
		{"too many shards", `{"version":2,"shards":3845,"keys":[]}`, true, 0},
		{"shard out of range", `{"version":2,"shard":3844,"keys":[]}`, true, 0},
		{"not json", `keys`, true, 0},
		{"unknown field", `{"version":1,"keyz":[]}`, true, 0},
		{"duplicate id", `{"keys":[` + rec + `,` + rec + `]}`, true, 0},
		{"bad tenant", `{"keys":[` + strings.Replace(rec, `"acme"`, `"a/b"`, 1) + `]}`, true, 0},
		{"bad hash", `{"keys":[` + strings.Replace(rec, k.Hash(), "sha256:00", 1) + `]}`, true, 0},
		{"bad id", `{"keys":[` + strings.Replace(rec, k.ID, "short", 1) + `]}`, true, 0},
		{"no created", `{"keys":[` + strings.Replace(rec, `,"created":"2026-11-28T10:00:00Z"`, "", 1) + `]}`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := keys.Decode([]byte(tt.doc))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, keys.ErrInvalid) {
					t.Fatalf("Decode err = %v, want ErrInvalid", err)
				}
				return
			}
			if len(s.Keys) != tt.wantN {
				t.Fatalf("len(Keys) = %d, want %d", len(s.Keys), tt.wantN)
			}
		})
	}
}

func TestEncodeRoundTripHasNoSecret(t *testing.T) {
	t.Parallel()
	m := keys.NewMemory()
	exp := t0.Add(24 * time.Hour)
	k, _, err := keys.Create(context.Background(), m, keys.NewKey{Tenant: "acme", Expires: &exp, Description: "Okta"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Shard(0).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	secret := k.String()[len(apikey.Prefix)+apikey.IDLen+1:]
	if strings.Contains(string(b), secret[:16]) {
		t.Fatalf("encoded document contains the key's secret: %s", b)
	}
	back, err := keys.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := back.Lookup(k.ID)
	if !ok || r.Tenant != "acme" || r.Description != "Okta" || !r.Expires.Equal(exp) || !r.Created.Equal(t0) || r.Revoked {
		t.Fatalf("round trip = %+v, %v", r, ok)
	}
	if back.Revision != 1 || back.Version != keys.FormatVersion {
		t.Fatalf("version/revision = %d/%d, want %d/1", back.Version, back.Revision, keys.FormatVersion)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	good, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "acme"}, t0)
	exp := t0.Add(time.Hour)
	expiring, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "acme", Expires: &exp}, t0)
	revoked, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "other"}, t0)
	if _, err := keys.Revoke(ctx, m, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.Generate()
	// Same id as good, different secret, valid checksum: a forged key.
	forged := forge(t, good.ID)
	s, err := keys.LoadAll(ctx, m)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		key     apikey.Key
		at      time.Time
		want    error
		tenant  string
		wantRec bool
	}{
		{"good", good, t0, nil, "acme", true},
		{"expiring before expiry", expiring, exp.Add(-time.Second), nil, "acme", true},
		{"expiring at expiry", expiring, exp, keys.ErrExpired, "", false},
		{"revoked", revoked, t0, keys.ErrRevoked, "", false},
		{"unknown", unknown, t0, keys.ErrUnknownKey, "", false},
		{"forged secret", forged, t0, keys.ErrWrongSecret, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := s.Authenticate(tt.key, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate err = %v, want %v", err, tt.want)
			}
			if tt.wantRec && r.Tenant != tt.tenant {
				t.Fatalf("tenant = %q, want %q", r.Tenant, tt.tenant)
			}
		})
	}
}

// forge returns a well-formed key (valid checksum) with the given id and a
// fresh secret, as an attacker who knows a key id could build.
func forge(t *testing.T, id string) apikey.Key {
	t.Helper()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := k.String()
	body := apikey.Prefix + id + s[len(apikey.Prefix)+apikey.IDLen:len(s)-apikey.ChecksumLen]
	fk, err := apikey.Parse(body + apikey.Checksum(body))
	if err != nil {
		t.Fatal(err)
	}
	return fk
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	past := t0.Add(-time.Hour)
	for _, nk := range []keys.NewKey{
		{Tenant: ""},
		{Tenant: "a b"},
		{Tenant: "-acme"},
		{Tenant: strings.Repeat("a", 65)},
		{Tenant: "acme", Expires: &past},
		{Tenant: "acme", Description: strings.Repeat("d", 201)},
	} {
		if _, _, err := keys.Create(ctx, m, nk, t0); !errors.Is(err, keys.ErrInvalid) {
			t.Errorf("Create(%+v) err = %v, want ErrInvalid", nk, err)
		}
	}
	if s, _ := keys.LoadAll(ctx, m); len(s.Keys) != 0 || m.Loads() != 1 {
		t.Fatalf("invalid creates stored %d keys, loaded %d documents; want 0 and only LoadAll's root", len(s.Keys), m.Loads())
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	k, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "acme"}, t0)
	r, err := keys.Revoke(ctx, m, k.ID, t0.Add(time.Minute))
	if err != nil || !r.Revoked || !r.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	r, err = keys.Revoke(ctx, m, k.ID, t0.Add(time.Hour))
	if err != nil || !r.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("second Revoke = %+v, %v; want first revocation time kept", r, err)
	}
	if _, err := keys.Revoke(ctx, m, "AAAAAAAAAAAA", t0); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("Revoke(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestSeveralActiveKeysPerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	old, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "acme"}, t0)
	next, _, _ := keys.Create(ctx, m, keys.NewKey{Tenant: "acme"}, t0)
	s, _ := keys.LoadAll(ctx, m)
	for _, k := range []apikey.Key{old, next} {
		if r, err := s.Authenticate(k, t0); err != nil || r.Tenant != "acme" {
			t.Fatalf("Authenticate(%s) = %+v, %v", k.ID, r, err)
		}
	}
}

func TestMemoryConcurrentCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := keys.NewMemory()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := keys.Create(ctx, m, keys.NewKey{Tenant: "acme"}, t0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, _ := m.Shard(0).Load(ctx)
	if len(s.Keys) != 20 || s.Revision != 20 {
		t.Fatalf("after 20 creates: shard 0 has %d keys, revision %d; want 20, 20", len(s.Keys), s.Revision)
	}
}
