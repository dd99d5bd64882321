package main

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/imagesync/imagesync/bench/wanproxy"
	"github.com/imagesync/imagesync/internal/testregistry"
)

// Round trips in a row, per image (WAN mode). A request belongs to an
// image when it names, in the image's own repository (on the source or on
// the target), something of that image: one of its manifests or blobs by
// digest, its tag, or an upload session that ends with one of its blobs
// (the POST that opened it, its PATCHes, its PUT). A blob shared by
// several images of one repository belongs to each; the same blob in
// another image's repository does not. Pings and token requests belong to
// no image. The chain of an image is
// wanproxy.LongestChain of its requests, on both registries together: the
// longest sequence of its requests each sent only after the previous one
// was answered.

// attributor knows what belongs to which image of a scenario.
type attributor struct {
	// by maps "proxy|repository|digest-or-tag" to the images it names.
	by     map[string][]string
	images []string
}

// newAttributor indexes the images of ws from the inventory.
func (b *bench) newAttributor(ws *workspace) *attributor {
	a := &attributor{by: map[string][]string{}}
	add := func(key, ref string) {
		if !slices.Contains(a.by[key], ref) {
			a.by[key] = append(a.by[key], ref)
		}
	}
	for _, p := range ws.pairs {
		pushed := b.inv.Image(p.ref)
		if pushed == nil {
			continue
		}
		a.images = append(a.images, p.ref)
		_, dst, _ := strings.Cut(p.dst, "/")
		dstRepo, dstTag, _ := strings.Cut(dst, ":")
		for _, side := range []struct{ proxy, repo, tag string }{{"source", pushed.Path, pushed.Tag}, {"target", dstRepo, dstTag}} {
			add(side.proxy+"|"+side.repo+"|"+side.tag, p.ref)
			for _, bl := range append(slices.Clone(pushed.Manifests), pushed.Blobs...) {
				add(side.proxy+"|"+side.repo+"|"+bl.Digest, p.ref)
			}
		}
	}
	return a
}

// chainStats is the median and the longest of the images' chains in one
// run, and the requests that belong to no image.
type chainStats struct {
	median, max, unattributed int
}

// chains counts the round trips in a row of every image of the run.
func (a *attributor) chains(ex []wanproxy.Exchange) chainStats {
	sessions := uploadSessions(ex)
	per := map[string][]wanproxy.Exchange{}
	var st chainStats
	for _, e := range ex {
		refs := a.owners(e, sessions)
		if len(refs) == 0 {
			st.unattributed++
		}
		for _, r := range refs {
			per[r] = append(per[r], e)
		}
	}
	var lengths []int
	for _, ref := range a.images {
		lengths = append(lengths, wanproxy.LongestChain(per[ref]))
	}
	if len(lengths) > 0 {
		slices.Sort(lengths)
		st.median, st.max = lengths[len(lengths)/2], lengths[len(lengths)-1]
	}
	return st
}

// owners are the images an exchange belongs to.
func (a *attributor) owners(e wanproxy.Exchange, sessions map[string]string) []string {
	kind, repo, ref := testregistry.Request{Method: e.Method, Path: e.Path}.Endpoint()
	q, _ := url.ParseQuery(e.Query)
	key := e.Proxy + "|" + repo + "|"
	switch kind {
	case testregistry.KindManifest, testregistry.KindBlob:
		return a.by[key+ref]
	case testregistry.KindBlobUpload:
		for _, d := range []string{q.Get("mount"), q.Get("digest"), sessions[ref], sessions[sessionOf(e.Location)]} {
			if d != "" {
				return a.by[key+d]
			}
		}
	}
	return nil
}

// uploadSessions maps every upload session id of a run to the digest it
// was completed with (its PUT ?digest=).
func uploadSessions(ex []wanproxy.Exchange) map[string]string {
	out := map[string]string{}
	for _, e := range ex {
		kind, _, id := testregistry.Request{Method: e.Method, Path: e.Path}.Endpoint()
		if kind != testregistry.KindBlobUpload || id == "" {
			continue
		}
		if q, _ := url.ParseQuery(e.Query); q.Get("digest") != "" {
			out[id] = q.Get("digest")
		}
	}
	return out
}

// sessionOf is the session id at the end of an upload Location.
func sessionOf(location string) string {
	if location == "" {
		return ""
	}
	u, err := url.Parse(location)
	if err != nil {
		return ""
	}
	return path.Base(u.Path)
}
