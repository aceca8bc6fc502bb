//go:build !unix

package keyfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"
)

// lock creates path exclusively, waiting until ctx is done. Unlike flock a
// crash can leave the file behind; delete it by hand if scimctl then waits.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}
