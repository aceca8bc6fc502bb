package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/keys/apikey"
)

// NewKey describes a key to create.
type NewKey struct {
	// Tenant the key acts on (see ValidTenant).
	Tenant string
	// Expires, if non-nil, is when the key stops working.
	Expires *time.Time
	// Description is a note for admins.
	Description string
}

// Created is a key made by CreateMany: the key, shown once, and its record.
type Created struct {
	Key    apikey.Key
	Record Record
}

// maxDescription bounds descriptions so that a record stays small and a
// shard holds hundreds of keys.
const maxDescription = 200

// revokeGrowth is how many bytes revoking a key adds to its record. A shard
// keeps that much room for each of its unrevoked keys, so a revocation never
// fails for lack of space.
var revokeGrowth = len(`,"revoked":true,"revokedAt":"2006-01-02T15:04:05Z"`)

// headerSlack is room kept for the document header to grow (revision digits).
const headerSlack = 32

// errShardFull and errNoChange end an Update's fn without writing.
var (
	errShardFull = errors.New("keys: shard full")
	errNoChange  = errors.New("keys: nothing to change")
)

func (nk NewKey) validate(now time.Time) error {
	if !ValidTenant(nk.Tenant) {
		return fmt.Errorf("%w: tenant %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, nk.Tenant)
	}
	if len(nk.Description) > maxDescription {
		return fmt.Errorf("%w: description longer than %d bytes", ErrInvalid, maxDescription)
	}
	if nk.Expires != nil && !nk.Expires.After(now) {
		return fmt.Errorf("%w: expiry %s is not in the future", ErrInvalid, nk.Expires.Format(time.RFC3339))
	}
	return nil
}

// Create generates a key, stores its record in st and returns the key. The
// key is returned only here: the store keeps its hash alone. See CreateMany.
func Create(ctx context.Context, st Sharded, nk NewKey, now time.Time) (apikey.Key, Record, error) {
	made, err := CreateMany(ctx, st, []NewKey{nk}, now)
	if err != nil {
		return apikey.Key{}, Record{}, err
	}
	return made[0].Key, made[0].Record, nil
}

// CreateMany creates one key per element of nks, in order, writing as many
// records per shard write as fit: bulk onboarding costs one write per few
// hundred keys, not one per key.
//
// New keys go to the root's open shard; when it is full, to the next one,
// creating it if needed (a new shard exists before the root counts it, so a
// crash in between only leaves unused records behind). A shard is filled
// only while its records, each grown by a later revocation, still fit in
// MaxDocBytes. Concurrent writers are safe: each shard and the root are
// updated with Store.Update.
//
// It refuses with ErrNeedsMigration on a version 1 root that holds keys and
// migrates an empty one. If a write fails after some keys were stored, it
// returns those keys with the error.
func CreateMany(ctx context.Context, st Sharded, nks []NewKey, now time.Time) ([]Created, error) {
	now = now.UTC().Truncate(time.Second)
	for _, nk := range nks {
		if err := nk.validate(now); err != nil {
			return nil, err
		}
	}
	if len(nks) == 0 {
		return nil, nil
	}
	root, err := loadRoot(ctx, st)
	if err != nil {
		return nil, err
	}
	if root.Version < 2 && len(root.Keys) > 0 {
		return nil, ErrNeedsMigration
	}
	legacy := make(map[string]bool, len(root.Keys))
	for _, r := range root.Keys {
		legacy[r.ID] = true
	}
	start := root.Open
	n, top := start, root.Shards-1
	var out []Created
	for len(out) < len(nks) {
		if n >= MaxShards {
			err = ErrFull
			break
		}
		placed, werr := fill(ctx, st.Shard(n), n, nks[len(out):], legacy, now)
		if errors.Is(werr, errShardFull) {
			n++
			continue
		}
		if werr != nil {
			err = werr
			break
		}
		out = append(out, placed...)
		top = max(top, n)
	}
	if len(out) == 0 {
		return nil, err
	}
	// Make the shards written visible (Shards) and remember where there
	// is room (Open), unless another writer moved Open meanwhile.
	if top >= root.Shards || n != start || root.Version < 2 {
		_, berr := st.Update(ctx, func(r *Set) error {
			if r.Version < 2 {
				if len(r.Keys) > 0 {
					return ErrNeedsMigration
				}
				r.Version = FormatVersion
			}
			changed := false
			if r.Shards < top+1 {
				r.Shards, changed = top+1, true
			}
			if r.Open == start && n != start && n < r.Shards {
				r.Open, changed = n, true
			}
			if !changed {
				return errNoChange
			}
			return nil
		})
		if berr != nil && !errors.Is(berr, errNoChange) {
			return nil, fmt.Errorf("keys stored but not yet visible, create them again: %w", berr)
		}
	}
	return out, err
}

// fill adds records for as many of nks as fit to shard n.
func fill(ctx context.Context, st Store, n int, nks []NewKey, legacy map[string]bool, now time.Time) ([]Created, error) {
	var placed []Created
	_, err := st.Update(ctx, func(s *Set) error {
		placed = placed[:0]
		if s.Shard == nil {
			if len(s.Keys) > 0 {
				return fmt.Errorf("%w: shard %d document has no shard number", ErrInvalid, n)
			}
			s.Shard = &n
		} else if *s.Shard != n {
			return fmt.Errorf("%w: shard %d document says it is shard %d", ErrInvalid, n, *s.Shard)
		}
		if s.Version < 2 {
			s.Version = FormatVersion
		}
		room, err := room(s)
		if err != nil {
			return err
		}
		taken := make(map[string]bool, len(s.Keys))
		for _, r := range s.Keys {
			taken[r.ID] = true
		}
		for _, nk := range nks {
			var key apikey.Key
			for {
				k, err := apikey.GenerateWithPrefix(ShardPrefix(n))
				if err != nil {
					return err
				}
				if !taken[k.ID] && !legacy[k.ID] {
					key = k
					break
				}
			}
			rec := Record{ID: key.ID, Tenant: nk.Tenant, Hash: key.Hash(), Created: now, Description: nk.Description}
			if nk.Expires != nil {
				e := nk.Expires.UTC()
				rec.Expires = &e
			}
			b, err := marshal(rec)
			if err != nil {
				return err
			}
			cost := len(b) + 1 + revokeGrowth
			if cost > room {
				break
			}
			room -= cost
			taken[key.ID] = true
			s.Keys = append(s.Keys, rec)
			placed = append(placed, Created{Key: key, Record: rec})
		}
		if len(placed) == 0 {
			return errShardFull
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return placed, nil
}

// room returns how many more bytes of records s can take while every
// unrevoked record can still be revoked within MaxDocBytes.
func room(s *Set) (int, error) {
	b, err := s.Encode()
	if err != nil {
		return 0, err
	}
	used := len(b) + headerSlack
	for _, r := range s.Keys {
		if !r.Revoked {
			used += revokeGrowth
		}
	}
	return MaxDocBytes - used, nil
}

// Revoke marks the key with the given id as revoked from now on. Revoking an
// already revoked key succeeds and keeps the first revocation time. It
// writes only the document that holds the key (the root for version 1
// keys, else the key's shard). Returns an error wrapping ErrNotFound if
// there is no such key.
func Revoke(ctx context.Context, st Sharded, id string, now time.Time) (Record, error) {
	root, err := loadRoot(ctx, st)
	if err != nil {
		return Record{}, err
	}
	doc := Store(st)
	if _, ok := root.Lookup(id); !ok {
		n, ok := ShardOf(id)
		if !ok || !apikey.ValidID(id) || n >= root.Shards {
			return Record{}, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		doc = st.Shard(n)
	}
	var rec Record
	_, err = doc.Update(ctx, func(s *Set) error {
		for i := range s.Keys {
			r := &s.Keys[i]
			if r.ID != id {
				continue
			}
			if !r.Revoked {
				t := now.UTC().Truncate(time.Second)
				r.Revoked, r.RevokedAt = true, &t
			}
			rec = *r
			return nil
		}
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	})
	return rec, err
}

// PurgeOptions select the keys Purge removes.
type PurgeOptions struct {
	// Tenant, if set, limits the purge to that tenant's keys.
	Tenant string
	// Before removes only keys revoked or expired at or before it
	// (default: now), e.g. to keep a month of history.
	Before time.Time
}

// Purge removes the records of revoked and expired keys (see PurgeOptions)
// from every document and returns them. Their ids become unknown, which the
// authorizer refuses just the same. Space freed in a shard is reused: the
// root's open shard moves back to the first shard Purge changed.
func Purge(ctx context.Context, st Sharded, opt PurgeOptions, now time.Time) ([]Record, error) {
	cut := opt.Before
	if cut.IsZero() || cut.After(now) {
		cut = now
	}
	gone := func(r Record) bool {
		if opt.Tenant != "" && r.Tenant != opt.Tenant {
			return false
		}
		if r.Revoked && (r.RevokedAt == nil || !r.RevokedAt.After(cut)) {
			return true
		}
		return r.Expires != nil && !r.Expires.After(cut)
	}
	sweep := func(doc Store) ([]Record, error) {
		var out []Record
		_, err := doc.Update(ctx, func(s *Set) error {
			out = out[:0]
			keep := make([]Record, 0, len(s.Keys))
			for _, r := range s.Keys {
				if gone(r) {
					out = append(out, r)
				} else {
					keep = append(keep, r)
				}
			}
			if len(out) == 0 {
				return errNoChange
			}
			s.Keys = keep
			return nil
		})
		if errors.Is(err, errNoChange) {
			return nil, nil
		}
		return out, err
	}
	root, err := loadRoot(ctx, st)
	if err != nil {
		return nil, err
	}
	var removed []Record
	first := -1
	for n := range root.Shards {
		got, err := sweep(st.Shard(n))
		if err != nil {
			return removed, err
		}
		if len(got) > 0 && first < 0 {
			first = n
		}
		removed = append(removed, got...)
	}
	var fromRoot []Record
	_, err = st.Update(ctx, func(r *Set) error {
		fromRoot = fromRoot[:0]
		keep := make([]Record, 0, len(r.Keys))
		for _, k := range r.Keys {
			if gone(k) {
				fromRoot = append(fromRoot, k)
			} else {
				keep = append(keep, k)
			}
		}
		r.Keys = keep
		moved := first >= 0 && first < r.Open
		if moved {
			r.Open = first
		}
		if len(fromRoot) == 0 && !moved {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return removed, err
	}
	return append(fromRoot, removed...), nil
}

// Migrate turns a version 1 root (the single-document layout, which tops
// out at a few hundred keys) into a version 2 root: its keys stay where
// they are and keep working, and new keys go to shards. It reports whether
// it changed anything; migrating twice is harmless. Run it only once the
// authorizer deployed reads version 2, or that authorizer refuses every key
// with a 5xx.
func Migrate(ctx context.Context, st Store) (bool, error) {
	_, err := st.Update(ctx, func(r *Set) error {
		if r.Version >= 2 {
			return errNoChange
		}
		r.Version = FormatVersion
		return nil
	})
	if errors.Is(err, errNoChange) {
		return false, nil
	}
	return err == nil, err
}

// loadParallel bounds concurrent shard reads in LoadAll.
const loadParallel = 8

// LoadAll returns every key of src: the root's, then each shard's in shard
// order, in one Set whose header is the root's. It is for listings and
// tools; the authorizer never needs it. A src that is not Sharded is read
// as a root alone.
func LoadAll(ctx context.Context, src Source) (*Set, error) {
	root, err := loadRoot(ctx, src)
	if err != nil {
		return nil, err
	}
	sh, ok := src.(Sharded)
	if !ok || root.Shards == 0 {
		return root, nil
	}
	sets := make([]*Set, root.Shards)
	errs := make([]error, root.Shards)
	sem := make(chan struct{}, loadParallel)
	var wg sync.WaitGroup
	for n := range root.Shards {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sets[n], errs[n] = loadShard(ctx, sh.Shard(n), n)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all := root.Clone()
	for _, s := range sets {
		all.Keys = append(all.Keys, s.Keys...)
	}
	return all, nil
}

// loadRoot loads the root, reading one that does not exist yet as empty.
func loadRoot(ctx context.Context, src Source) (*Set, error) {
	s, err := src.Load(ctx)
	if errors.Is(err, ErrNoDocument) {
		return &Set{Version: FormatVersion}, nil
	}
	return s, err
}

// loadShard loads shard n and checks that it says it is shard n.
func loadShard(ctx context.Context, src Source, n int) (*Set, error) {
	s, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	if s.Shard == nil || *s.Shard != n {
		return nil, fmt.Errorf("%w: shard %d document is not labelled shard %d", ErrInvalid, n, n)
	}
	return s, nil
}
