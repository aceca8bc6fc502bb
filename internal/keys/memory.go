package keys

import (
	"context"
	"sync"
)

// Memory is a Store kept in memory, for tests and tools. Its Load can be made
// to fail with SetErr to simulate an outage.
type Memory struct {
	mu    sync.Mutex
	doc   []byte
	err   error
	loads int
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{} }

// Load returns a fresh copy of the stored set, or the error set by SetErr.
func (m *Memory) Load(ctx context.Context) (*Set, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.err != nil {
		return nil, m.err
	}
	return Decode(m.doc)
}

// Update applies fn under a lock; see Store.
func (m *Memory) Update(ctx context.Context, fn func(*Set) error) (*Set, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	s, err := Decode(m.doc)
	if err != nil {
		return nil, err
	}
	if err := fn(s); err != nil {
		return nil, err
	}
	s.Version = FormatVersion
	s.Revision++
	b, err := s.Encode()
	if err != nil {
		return nil, err
	}
	m.doc = b
	return s, nil
}

// SetErr makes every following Load and Update fail with err (nil heals).
func (m *Memory) SetErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// Loads returns how many times Load was called.
func (m *Memory) Loads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loads
}
