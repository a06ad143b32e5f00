package snapshot

import (
	"fmt"
	"os"
)

// TempPattern (for os.CreateTemp) names every temporary file this
// package creates, so a crashed run's leftovers are recognisable and
// RemoveTemp deletes them. Other packages writing files that are to be
// renamed into place beside snapshots should use it too.
const TempPattern = ".dhtdb-tmp-*"

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// syncDir fsyncs a directory so a rename or creation in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}
