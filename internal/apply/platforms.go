package apply

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/platformfilter"
	"github.com/imagesync/imagesync/internal/registry"
)

// platformFilter is the tree option that reads only the children of the
// locked platforms (and their BuildKit attestation manifests) of an index
// mirrored with a platform choice; every child otherwise.
func (j *job) platformFilter() (registry.TreeOption, error) {
	all := registry.WithChildFilter(func(v1.Descriptor) bool { return true })
	if j.c.PlatformMode == "" || !types.MediaType(j.rootType).IsIndex() {
		return all, nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(j.root))
	if err != nil {
		return nil, fmt.Errorf("parse index %s: %w", j.digest, err)
	}
	sel, err := platformfilter.Select(im.Manifests, j.c.MirroredPlatforms)
	if err != nil {
		return nil, err
	}
	if len(sel.Missing) > 0 {
		return nil, fmt.Errorf("index %s has no %s image", j.digest, strings.Join(sel.Missing, ", "))
	}
	return registry.WithChildFilter(sel.Keeps), nil
}

// choosePlatforms is the tree to write for an index mirrored with a
// platform choice: in filter mode, the kept children under the index that
// lists only them, whose digest must be the lock's target_digest; in
// sparse mode, the kept children under the original index bytes.
func (j *job) choosePlatforms(m *registry.Manifest) (*registry.Manifest, error) {
	if j.c.PlatformMode != config.PlatformFilter || !m.IsIndex() {
		return m, nil
	}
	kept := map[string]bool{}
	for _, c := range m.Children {
		kept[c.Digest.String()] = true
	}
	data, d, err := platformfilter.Filter(m.Data, func(e v1.Descriptor) bool { return kept[e.Digest.String()] })
	if err != nil {
		return nil, fmt.Errorf("filter index %s: %w", j.digest, err)
	}
	if d != j.c.TargetDigest() {
		return nil, fmt.Errorf("the index of %s filtered to %s has digest %s, but images.lock says %s: run \"imagesync lock\" again",
			j.c.Source, strings.Join(j.c.MirroredPlatforms, ", "), d, j.c.TargetDigest())
	}
	filtered := *m
	filtered.Digest, filtered.Data = d, data
	return &filtered, nil
}

// explainSparse says what to do when a target refuses a sparse index,
// whose children of other platforms it does not hold, as most registries
// do; other errors are returned as they are.
func (j *job) explainSparse(err error) error {
	if err == nil || j.c.PlatformMode != config.PlatformSparse || !refusedManifest(err) {
		return err
	}
	return fmt.Errorf("the target refused the sparse index of %s (it lists platforms left out: only %s are mirrored): %w; "+
		"set platform_mode = \"filter\" for this image to push an index of the chosen platforms only (a new digest)",
		j.c.Source, strings.Join(j.c.MirroredPlatforms, ", "), err)
}

// refusedManifest reports whether err is a registry refusing a manifest
// as invalid (400, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID ...).
func refusedManifest(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == 400 {
		return true
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestBlobUnknownErrorCode, transport.ManifestInvalidErrorCode, transport.ManifestUnknownErrorCode:
			return true
		}
	}
	return false
}
