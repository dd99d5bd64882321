package registry

import "errors"

// The structural limits on what a registry serves, one definition each.
// Every reader applies them through the same code (ReadTree for manifest
// graphs, Referrers for listings, GetBlob for blobs), so that lock, plan,
// apply and verify refuse the same things: a lock never pins what apply
// would refuse.
const (
	// MaxManifestSize bounds a manifest, an index or a referrers listing
	// read into memory; registries refuse larger ones too (distribution's
	// limit is 4 MiB).
	MaxManifestSize = 4 << 20
	// MaxIndexEntries bounds the entries of one index (and of one page
	// of a referrers listing).
	MaxIndexEntries = 1000
	// MaxIndexDepth bounds the nesting of indexes: an index of indexes is
	// legal OCI, a deeper chain is not something any publisher makes.
	MaxIndexDepth = 2
	// MaxManifestsPerImage bounds the distinct manifests one image's
	// graph refers to (its index, the children, nested indexes and
	// theirs): an index of 1000 entries that all name one index of 100
	// entries is 3 manifests, read once each, but a graph of many
	// distinct ones is refused rather than read without end.
	MaxManifestsPerImage = 1024
	// MaxImageManifestBytes bounds the bytes of the manifests of one
	// image's graph held in memory at once.
	MaxImageManifestBytes = 64 << 20
	// MaxReferrersPages bounds the pages of a referrers listing followed
	// through its Link headers.
	MaxReferrersPages = 16
)

// ErrLimit is wrapped by the error of anything a registry serves beyond a
// structural limit (a manifest too large, an index nested too deep or with
// too many entries, a graph of too many manifests, a referrers listing
// that loops or does not end, a blob longer or shorter than its
// descriptor). Such an answer is not a transient fault: nothing retries
// it, and the error names the registry that served it.
var ErrLimit = errors.New("beyond imagesync's limits")
