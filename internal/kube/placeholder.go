package kube

import (
	"strings"

	"github.com/imagesync/imagesync/internal/imageref"
)

// Bare reports whether an image field's value names an image with neither
// registry, tag nor digest: "adservice", "team/api". Tools that build and
// deploy (skaffold, ko, Tilt) write such names in manifests as
// placeholders for the image they build and substitute at deploy time;
// read as docker reads a reference, the name would be Docker Hub's
// "docker.io/library/adservice:latest", an image that usually does not
// exist and never is the one deployed.
func Bare(value string) bool {
	if strings.ContainsAny(value, ":@") {
		return false // a tag, a digest, or a registry's port
	}
	if _, err := imageref.ParseName(value); err != nil {
		return false
	}
	first, _, _ := strings.Cut(value, "/")
	return !imageref.LooksLikeHost(first)
}
