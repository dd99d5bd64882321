package fakeupstream

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// checkPushed asks the registry what img's tag points to and compares it
// with what Build makes: digest, media type, and the index's platforms.
func checkPushed(t *testing.T, img Image, hosts map[string]string) {
	t.Helper()
	tag, err := Target(img, hosts)
	if err != nil {
		t.Fatal(err)
	}
	built := mustBuild(t, img)
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatalf("HEAD %s: %v", tag, err)
	}
	wantMT, _ := built.MediaType()
	if got := desc.Digest.String(); got != digestOf(t, built) || desc.MediaType != wantMT {
		t.Errorf("%s: registry has %s (%s), built %s (%s)", img.Ref, got, desc.MediaType, digestOf(t, built), wantMT)
	}
	if img.Single {
		return
	}
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatalf("GET index %s: %v", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
	}
	if strings.Join(platforms, " ") != strings.Join(img.Platforms, " ") {
		t.Errorf("%s: index lists %v, want %v", img.Ref, platforms, img.Platforms)
	}
}

func TestPushInProcessRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	hosts := map[string]string{"docker.io": host, "quay.io": host}

	byRef := map[string]Image{}
	for _, img := range Seed() {
		byRef[img.Ref] = img
	}
	for _, ref := range []string{
		"docker.io/library/nginx:1.27-alpine",  // OCI index
		"docker.io/osixia/openldap:stable",     // Docker single manifest
		"docker.io/tecnativa/tcp-proxy:latest", // Docker manifest list
		"docker.io/library/alpine:latest",      // three platforms with variants
		"quay.io/minio/minio:latest",
	} {
		img := byRef[ref]
		d, err := Push(context.Background(), img, hosts)
		if err != nil {
			t.Fatal(err)
		}
		if d != digestOf(t, mustBuild(t, img)) {
			t.Errorf("%s: Push returned %s", ref, d)
		}
		checkPushed(t, img, hosts)
	}
}

func TestPushAllToDockerRegistry(t *testing.T) {
	dockerHub, quay := testregistry.StartT(t), testregistry.StartT(t)
	hosts := map[string]string{"docker.io": dockerHub.Host(), "quay.io": quay.Host()}
	ctx := context.Background()
	if err := PushAll(ctx, Seed(), hosts); err != nil {
		t.Fatal(err)
	}
	for _, img := range Seed() {
		checkPushed(t, img, hosts)
	}

	reqs, err := dockerHub.Requests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Status >= 500 {
			t.Errorf("registry answered %d to %s %s", r.Status, r.Method, r.Path)
		}
	}
	if n := testregistry.Count(reqs, http.MethodPut, testregistry.KindManifest); n == 0 {
		t.Fatal("no manifest PUT in the access log")
	}

	// Generation is deterministic end to end: pushing again finds every
	// blob already there and uploads nothing.
	uploads := testregistry.Count(reqs, http.MethodPut, testregistry.KindBlobUpload)
	if err := PushAll(ctx, Seed(), hosts); err != nil {
		t.Fatal(err)
	}
	again, err := dockerHub.Requests()
	if err != nil {
		t.Fatal(err)
	}
	if n := testregistry.Count(again, http.MethodPut, testregistry.KindBlobUpload); n != uploads {
		t.Errorf("second PushAll uploaded %d more blobs", n-uploads)
	}
}

func TestTarget(t *testing.T) {
	hosts := map[string]string{"docker.io": "127.0.0.1:5101", "quay.io": "127.0.0.1:5102"}
	cases := map[string]string{
		"docker.io/library/nginx:1.27-alpine": "127.0.0.1:5101/library/nginx:1.27-alpine",
		"nginx:1.27-alpine":                   "127.0.0.1:5101/library/nginx:1.27-alpine",
		"quay.io/minio/minio:latest":          "127.0.0.1:5102/minio/minio:latest",
	}
	for ref, want := range cases {
		tag, err := Target(Image{Ref: ref}, hosts)
		if err != nil {
			t.Fatal(err)
		}
		if tag.String() != want || tag.Scheme() != "http" {
			t.Errorf("Target(%s) = %s over %s, want %s over http", ref, tag, tag.Scheme(), want)
		}
	}
	for _, ref := range []string{
		"ghcr.io/owner/app:1", // no stand-in
		"docker.io/library/nginx@sha256:" + strings.Repeat("a", 64),
		"",
	} {
		if _, err := Target(Image{Ref: ref}, hosts); err == nil {
			t.Errorf("Target(%q) succeeded", ref)
		}
	}
	minio := Image{Ref: "quay.io/minio/minio:latest", Platforms: []string{"linux/amd64"}}
	err := PushAll(context.Background(), []Image{minio}, map[string]string{"docker.io": "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "quay.io") {
		t.Errorf("PushAll without a quay.io stand-in: %v", err)
	}
}

func TestByRepository(t *testing.T) {
	groups := byRepository(Seed())
	var got []string
	for _, g := range groups {
		var refs []string
		for _, img := range g {
			refs = append(refs, img.Ref)
		}
		got = append(got, strings.Join(refs, ","))
	}
	if len(groups) != 12 {
		t.Errorf("%d repositories, want 12: %q", len(groups), got)
	}
	want := "docker.io/library/nginx:1.27-alpine,docker.io/library/nginx:stable-alpine-perl"
	if got[0] != want {
		t.Errorf("first group %q, want %q", got[0], want)
	}
}
