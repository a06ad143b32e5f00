package swarm

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/snapshot/versions"
)

// SeedStore makes the swarm seed exactly the versions store keeps (the five
// newest by default): it seeds those not seeded yet and stops seeding the
// versions of that store's directory that the store no longer lists. Call
// it after each Store.Add, and at start-up.
func (s *Swarm) SeedStore(store *versions.Store) error {
	listed := make(map[metainfo.Hash]bool)
	var errs []error
	for _, v := range store.List() {
		listed[v.InfoHash] = true
		if _, err := s.Seed(v.Path, v.Info); err != nil {
			errs = append(errs, err)
		}
	}
	dir := filepath.Clean(store.Dir())
	for ih, path := range s.Seeding() {
		// A fetched file not added yet still has its temporary name.
		fetched := strings.HasPrefix(filepath.Base(path), ".dhtdb-tmp-")
		if !listed[ih] && !fetched && filepath.Dir(path) == dir {
			s.Unseed(ih)
		}
	}
	return errors.Join(errs...)
}
