// Package modroot finds the root of this Go module (the folder holding
// go.mod), where template.yaml and the .cache/ of installed tools live, from
// whatever folder a test or tool runs in.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
)

// Find walks up from the working directory to the first folder holding a
// go.mod file.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}
