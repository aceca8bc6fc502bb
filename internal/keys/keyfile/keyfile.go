// Package keyfile keeps the API key set (package keys) in local JSON files,
// the same documents the Secrets Manager secrets hold: the root in one file
// (default .data/keys.json) and shard n in <root without .json>.d/<n>.json
// (.data/keys.d/0.json, …). `make run` and `scimctl` without --secret use
// it. Every document obeys keys.MaxDocBytes, so the local key set shards
// exactly as the one on AWS does.
//
// Readers never lock: writers replace a file atomically (temporary file,
// fsync, rename), so a reader sees the old or the new document, never half
// of one. Writers serialise on an advisory lock on "<file>.lock", so two
// scimctl runs at once cannot lose each other's change.
package keyfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys"
)

// DefaultPath is where `make run` and scimctl keep the local key set.
const DefaultPath = ".data/keys.json"

// Store is a keys.Sharded backed by files: the root file and, through Shard,
// one file per shard.
type Store struct {
	path  string
	shard int // -1 for the root
}

var _ keys.Sharded = (*Store)(nil)

// New returns a Store whose root document is the file at path. Files and
// directories are created on the first Update.
func New(path string) *Store { return &Store{path: path, shard: -1} }

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Shard returns the Store of shard n: the file <path without .json>.d/<n>.json.
// Its own Shard method must not be called.
func (s *Store) Shard(n int) keys.Store {
	dir := strings.TrimSuffix(s.path, ".json") + ".d"
	return &Store{path: filepath.Join(dir, strconv.Itoa(n)+".json"), shard: n}
}

// Load reads the file. A missing root file is an empty key set (nothing has
// been created yet); a missing shard file is keys.ErrNoDocument; an unreadable
// or malformed file is an error.
func (s *Store) Load(ctx context.Context) (*keys.Set, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		if s.shard >= 0 {
			return nil, fmt.Errorf("keyfile: %s: %w", s.path, keys.ErrNoDocument)
		}
		return &keys.Set{Version: keys.FormatVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	set, err := keys.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", s.path, err)
	}
	return set, nil
}

// Update implements keys.Store under the file lock. A missing file is
// created.
func (s *Store) Update(ctx context.Context, fn func(*keys.Set) error) (*keys.Set, error) {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	unlock, err := lock(ctx, s.path+".lock")
	if err != nil {
		return nil, fmt.Errorf("keyfile: locking %s: %w", s.path, err)
	}
	defer unlock()
	set, err := s.Load(ctx)
	if errors.Is(err, keys.ErrNoDocument) {
		set, err = &keys.Set{Version: keys.FormatVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	doc, err := set.Apply(fn)
	if err != nil {
		return nil, err
	}
	if err := writeFile(s.path, doc); err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	return set, nil
}

// writeFile replaces path with data atomically, mode 0600.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lockPoll is how often a busy lock is retried.
const lockPoll = 10 * time.Millisecond
