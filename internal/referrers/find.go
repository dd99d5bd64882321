package referrers

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagesync/imagesync/internal/registry"
)

// cosignSuffixes are cosign's classic tags, by the kind they hold.
var cosignSuffixes = []struct {
	suffix string
	kind   Kind
}{{".att", Attestation}, {".sbom", SBOM}, {".sig", Signature}}

// CosignTag is cosign's classic tag for an artifact of subject:
// "sha256-<hex>.sig", ".att" or ".sbom".
func CosignTag(subject digest.Digest, suffix string) string {
	return registry.FallbackTag(subject) + suffix
}

// Source is what discovery reads of a repository; *registry.Repo has it.
type Source interface {
	Referrers(ctx context.Context, subject digest.Digest) (registry.ReferrerList, error)
	HeadManifest(ctx context.Context, ref string) (registry.Head, error)
	GetManifest(ctx context.Context, d digest.Digest) ([]byte, string, error)
}

// Limits bound what a registry may list as attached to an image (images.hcl's
// referrers block: max_per_subject, max_per_image); 0 is no bound.
type Limits struct {
	PerSubject int // for one manifest, counted as listed (referrers and cosign's tags)
	PerImage   int // for the manifests of one image together
}

// Find lists what is attached to subject in src: its OCI referrers
// (referrers API, else the fallback tag's index) and cosign's classic
// tags. Tags are asked for with HEAD; a manifest is fetched only when its
// listing does not say what it is, or for a tag that exists.
func Find(ctx context.Context, src Source, subject digest.Digest) ([]Artifact, error) {
	out, err := listed(ctx, src, subject, 0)
	if err != nil {
		return nil, err
	}
	for _, c := range cosignSuffixes {
		a, ok, err := cosignTagged(ctx, src, subject, c.suffix, c.kind)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	Sort(out)
	return out, nil
}

// listed is what the referrers API (or the fallback tag's index) lists
// for subject, each artifact once; more than max (0: no bound) is an
// error wrapping registry.ErrLimit, found before any manifest is read.
func listed(ctx context.Context, src Source, subject digest.Digest, max int) ([]Artifact, error) {
	list, err := src.Referrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	var descs []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, desc := range list.Descriptors {
		if !seen[desc.Digest] {
			seen[desc.Digest] = true
			descs = append(descs, desc)
		}
	}
	if max > 0 && len(descs) > max {
		return nil, fmt.Errorf("%d listed for %s, more than max_per_subject = %d (images.hcl's referrers block): %w", len(descs), subject, max, registry.ErrLimit)
	}
	var out []Artifact
	for _, desc := range descs {
		a, err := fromDescriptor(ctx, src, subject, desc)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// cosignTagged is the artifact under cosign's classic tag of subject with
// suffix, if the tag exists.
func cosignTagged(ctx context.Context, src Source, subject digest.Digest, suffix string, kind Kind) (Artifact, bool, error) {
	tag := CosignTag(subject, suffix)
	head, err := src.HeadManifest(ctx, tag)
	if errors.Is(err, registry.ErrNotFound) {
		return Artifact{}, false, nil
	}
	if err != nil {
		return Artifact{}, false, err
	}
	facts, err := readFacts(ctx, src, head.Digest)
	if err != nil {
		return Artifact{}, false, err
	}
	if kind == Attestation && isSBOMPredicate(facts.layerPredicate) {
		kind = SBOM
	}
	return Artifact{Digest: head.Digest, ArtifactType: facts.artifactType, Kind: kind, Subject: subject, Via: ViaTag, Tag: tag}, true, nil
}

// fromDescriptor makes an artifact of a referrers listing's entry; the
// manifest is read only when the entry lacks its type, or is a sigstore
// bundle without the predicate that tells a signature from an attestation,
// and then must name subject as its subject (apply checks every one).
func fromDescriptor(ctx context.Context, src Source, subject digest.Digest, desc v1.Descriptor) (Artifact, error) {
	d, err := digest.Parse(desc.Digest.String())
	if err == nil && d.Algorithm() != digest.SHA256 {
		err = fmt.Errorf("only sha256 digests are pinned")
	}
	if err != nil {
		return Artifact{}, fmt.Errorf("referrer %s of %s: %w", desc.Digest, subject, err)
	}
	a := Artifact{Digest: d, ArtifactType: desc.ArtifactType, Subject: subject, Via: ViaReferrers}
	predicate := desc.Annotations[bundlePredicate]
	if a.ArtifactType == "" || (a.ArtifactType == BundleType && predicate == "") {
		data, _, err := src.GetManifest(ctx, d)
		if err != nil {
			return Artifact{}, err
		}
		if err := CheckSubject(data, subject); err != nil {
			return Artifact{}, fmt.Errorf("referrer %s: %w", d, err)
		}
		facts, err := parseFacts(data)
		if err != nil {
			return Artifact{}, err
		}
		a.ArtifactType, predicate = facts.artifactType, facts.bundlePredicate
	}
	a.Kind = Classify(a.ArtifactType, predicate)
	return a, nil
}

// facts are what a referrer's manifest says about itself.
type facts struct {
	artifactType    string
	bundlePredicate string // of a sigstore bundle's manifest
	layerPredicate  string // of a classic cosign attestation's first layer
}

// genericConfigs are config media types that say nothing of an artifact.
var genericConfigs = map[string]bool{
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
	"application/vnd.oci.empty.v1+json":              true,
	"":                                               true,
}

func readFacts(ctx context.Context, src Source, d digest.Digest) (facts, error) {
	data, _, err := src.GetManifest(ctx, d)
	if err != nil {
		return facts{}, err
	}
	return parseFacts(data)
}

// parseFacts reads a manifest's artifact type: artifactType, else the
// config's media type, else (a plain image config, as cosign's classic
// tags have) the first layer's media type.
func parseFacts(data []byte) (facts, error) {
	m, err := parseManifest(data)
	if err != nil {
		return facts{}, err
	}
	f := facts{artifactType: m.ArtifactType, bundlePredicate: m.Annotations[bundlePredicate]}
	if f.artifactType == "" && !genericConfigs[m.Config.MediaType] {
		f.artifactType = m.Config.MediaType
	}
	if len(m.Layers) > 0 {
		if f.artifactType == "" {
			f.artifactType = m.Layers[0].MediaType
		}
		f.layerPredicate = m.Layers[0].Annotations[layerPredicate]
	}
	return f, nil
}

// Finder discovers artifacts through a registry client, within the
// client's per-host request bounds.
type Finder struct{ client *registry.Client }

// NewFinder returns a Finder that reads through client.
func NewFinder(client *registry.Client) *Finder { return &Finder{client: client} }

// questionsAtOnce bounds the questions Find asks at once: the subjects
// are an image's manifests, an index and its children (up to
// MaxIndexEntries), each asked 1 + len(cosignSuffixes) questions. 64 is
// the registry client's bound of requests to a far host (16, four times),
// so that a far registry still gets every question of a usual image (an
// index, a few platforms and their attestations) at once, while an index
// of a thousand children does not start four thousand goroutines to queue
// on the host's bound.
const questionsAtOnce = 64

// Find lists what is attached to each subject in ep's repository, sorted:
// what Find does for one subject, its questions asked at once, up to
// questionsAtOnce (the listing and each cosign tag, for every subject), each within a request
// slot of the host. On a far registry an image's referrers then cost the
// round trips of one question, not of a dozen in a row.
//
// What each subject lists (its referrers and cosign's tags) is bounded by
// lim.PerSubject, what they list together by lim.PerImage: beyond is an
// error naming the registry and the limit, wrapping registry.ErrLimit.
func (f *Finder) Find(ctx context.Context, ep registry.Endpoint, subjects []digest.Digest, lim Limits) ([]Artifact, error) {
	questions := 1 + len(cosignSuffixes)
	found := make([][]Artifact, len(subjects)*questions)
	errs := make([]error, len(found))
	var g errgroup.Group
	g.SetLimit(questionsAtOnce)
	for i, s := range subjects {
		for q := range questions {
			g.Go(func() error {
				k := i*questions + q
				found[k], errs[k] = f.ask(ctx, ep, s, q, lim.PerSubject)
				return nil
			})
		}
	}
	_ = g.Wait() // errors are kept per question, reported in order
	var out []Artifact
	for k, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("referrers of %s in %s: %w", subjects[k/questions], ep.Repo, err)
		}
		out = append(out, found[k]...)
	}
	for i, s := range subjects {
		n := 0
		for q := range questions {
			n += len(found[i*questions+q])
		}
		if lim.PerSubject > 0 && n > lim.PerSubject {
			return nil, fmt.Errorf("referrers of %s in %s: %d, more than max_per_subject = %d (images.hcl's referrers block): %w", s, ep.Repo, n, lim.PerSubject, registry.ErrLimit)
		}
	}
	if lim.PerImage > 0 && len(out) > lim.PerImage {
		return nil, fmt.Errorf("referrers in %s: %d for the image's %d manifests, more than max_per_image = %d (images.hcl's referrers block): %w", ep.Repo, len(out), len(subjects), lim.PerImage, registry.ErrLimit)
	}
	Sort(out)
	return out, nil
}

// ask asks ep one question of Find about subject: q = 0 is the referrers
// listing, q = 1.. cosign's tags in cosignSuffixes' order.
func (f *Finder) ask(ctx context.Context, ep registry.Endpoint, subject digest.Digest, q, max int) ([]Artifact, error) {
	repo, release, err := f.client.Open(ctx, ep, registry.PullOnly)
	if err != nil {
		return nil, err
	}
	defer release()
	if q == 0 {
		return listed(ctx, repo, subject, max)
	}
	c := cosignSuffixes[q-1]
	a, ok, err := cosignTagged(ctx, repo, subject, c.suffix, c.kind)
	if err != nil || !ok {
		return nil, err
	}
	return []Artifact{a}, nil
}

// Manifest reads the manifest head names, from the endpoint that resolved
// it: an index with its nested indexes (registry.WithIndexesOnly: its
// shape checked against the limits apply applies, without pulling the
// image manifests it lists).
func (f *Finder) Manifest(ctx context.Context, head registry.Head) (*registry.Manifest, error) {
	repo, release, err := f.client.Open(ctx, head.Endpoint, registry.PullOnly)
	if err != nil {
		return nil, err
	}
	defer release()
	return repo.ReadTree(ctx, head.Digest, registry.WithIndexesOnly())
}
