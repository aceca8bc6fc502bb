package users

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
// one lane). IdPs send a password with almost every create (Okta sends a
// random placeholder), so the cost is paid on the request path; these keep
// it near 30 ms.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// HashPassword returns the PHC-formatted Argon2id hash of password. The
// cleartext is never stored (RFC 7643 §4.1.1: the service provider MUST NOT
// return it, and SHOULD store it hashed).
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// VerifyPassword reports whether password matches a hash made by
// HashPassword. The SaaS application uses it if it checks passwords itself.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<22 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// HashMemory is the memory one Argon2id computation (a hash or a
// verification) holds while it runs: argonMemory KiB, 19 MiB.
const HashMemory = argonMemory * 1024

// hashSlots is the process-wide semaphore of Argon2id computations: one
// token per computation allowed to run. Each holds HashMemory, so without a
// bound 200 parallel creates under PasswordsHash took a process to 3.7 GB.
// One per CPU (GOMAXPROCS) is the default: the computation is single-lane
// CPU work, so more at once adds memory and latency, not throughput.
var hashSlots atomic.Pointer[chan struct{}]

func init() { SetHashConcurrency(0) }

// SetHashConcurrency sets how many Argon2id computations may run at once in
// this process, whatever the number of Services; n < 1 means
// runtime.GOMAXPROCS(0). Peak memory for hashing is about n × HashMemory
// (plus what the garbage collector has not yet reclaimed). Call it at
// start, before requests: computations already running keep the slots of
// the old bound. A Lambda function serves one request at a time, so there
// the bound only matters to processes that serve many, like the local API.
func SetHashConcurrency(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	slots := make(chan struct{}, n)
	hashSlots.Store(&slots)
}

// HashConcurrency returns the bound SetHashConcurrency set.
func HashConcurrency() int { return cap(*hashSlots.Load()) }

// errHashBusy is the answer to a request whose deadline came while it
// waited for a hashing slot: 503, and scimhttp adds Retry-After.
var errHashBusy = scim.Errorf(http.StatusServiceUnavailable, "", "too many passwords are being hashed at once; retry the request")

// withHashSlot runs fn once one of the process's hashing slots is free,
// waiting no longer than ctx allows (then errHashBusy).
func withHashSlot(ctx context.Context, fn func()) error {
	slots := *hashSlots.Load()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return errHashBusy
	}
	defer func() { <-slots }()
	fn()
	return nil
}

// hash returns the hash to store for a password sent under the policy, and
// false when the policy keeps none. The hash is computed in one of the
// process's hashing slots (SetHashConcurrency).
func (s *Service) hash(ctx context.Context, password *string) (string, bool, error) {
	if password == nil || s.Passwords != PasswordsHash {
		return "", false, nil
	}
	h, err := s.hashBounded(ctx, *password)
	return h, err == nil, err
}

// hashBounded is s.HashPassword in a hashing slot.
func (s *Service) hashBounded(ctx context.Context, password string) (string, error) {
	var (
		h   string
		err error
	)
	if serr := withHashSlot(ctx, func() { h, err = s.HashPassword(password) }); serr != nil {
		return "", serr
	}
	return h, err
}

// samePassword reports whether password matches the stored hash, verifying
// in a hashing slot (a verification costs what a hash does). No hash
// stored: false, at no cost.
func (s *Service) samePassword(ctx context.Context, hash, password string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	var same bool
	err := withHashSlot(ctx, func() { same = VerifyPassword(hash, password) })
	return same, err
}
