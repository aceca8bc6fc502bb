package keys

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a Sharded key set kept in memory, for tests and tools. Its
// documents obey the same rules as the stored ones (MaxDocBytes, shards that
// exist only once written). SetErr makes every document fail, to simulate an
// outage.
type Memory struct {
	mu    sync.Mutex
	docs  map[int][]byte // rootDoc for the root, else the shard number
	err   error
	loads int
}

// rootDoc is the key of the root document in Memory.docs.
const rootDoc = -1

var _ Sharded = (*Memory)(nil)

// NewMemory returns an empty in-memory key set.
func NewMemory() *Memory { return &Memory{docs: map[int][]byte{}} }

// Load returns a fresh copy of the root document, or the error set by SetErr.
func (m *Memory) Load(ctx context.Context) (*Set, error) { return m.load(rootDoc) }

// Update changes the root document under a lock; see Store.
func (m *Memory) Update(ctx context.Context, fn func(*Set) error) (*Set, error) {
	return m.update(rootDoc, fn)
}

// Shard returns the Store of shard n.
func (m *Memory) Shard(n int) Store { return memShard{m, n} }

// SetErr makes every following Load and Update fail with err (nil heals).
func (m *Memory) SetErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// Loads returns how many times a document (root or shard) was loaded.
func (m *Memory) Loads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loads
}

func (m *Memory) load(n int) (*Set, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.err != nil {
		return nil, m.err
	}
	doc, ok := m.docs[n]
	if !ok && n != rootDoc {
		return nil, fmt.Errorf("memory: shard %d: %w", n, ErrNoDocument)
	}
	return Decode(doc)
}

func (m *Memory) update(n int, fn func(*Set) error) (*Set, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	s, err := Decode(m.docs[n])
	if err != nil {
		return nil, err
	}
	b, err := s.Apply(fn)
	if err != nil {
		return nil, err
	}
	m.docs[n] = b
	return s, nil
}

// memShard is the Store of one shard of a Memory.
type memShard struct {
	m *Memory
	n int
}

func (s memShard) Load(ctx context.Context) (*Set, error) { return s.m.load(s.n) }

func (s memShard) Update(ctx context.Context, fn func(*Set) error) (*Set, error) {
	return s.m.update(s.n, fn)
}
