package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes the report to path atomically (a temporary file in the
// same directory, renamed over it), readable by its owner only: an
// unredacted report holds secrets.
func WriteFile(path string, f Format, r Report, o Options) error {
	var buf bytes.Buffer
	if err := Write(&buf, f, r, o); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".leakstop-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
