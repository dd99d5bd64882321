package fakeupstream

// Platforms used by the catalogue.
const (
	linuxAMD64   = "linux/amd64"
	linuxARM64   = "linux/arm64"
	linuxARM64v8 = "linux/arm64/v8"
	linuxARMv7   = "linux/arm/v7"
)

// Seed returns the catalogue of the 15 third-party images of the
// ai-infra-matrix stack, as a new slice on every call so that a caller
// may change its copy (raise LayerSize, bump a Generation) freely.
//
// Official library images are OCI indexes on alpine, like on Docker Hub
// today; the osixia images are old single-platform Docker schema 2
// manifests; tecnativa/tcp-proxy is a Docker manifest list; minio is
// built on UBI and redisinsight on Debian, so that not every image shares
// the alpine base.
func Seed() []Image {
	two := func() []string { return []string{linuxAMD64, linuxARM64} }
	return []Image{
		{Ref: "docker.io/library/nginx:1.27-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/postgres:15-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/redis:7-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/osixia/openldap:stable", Platforms: []string{linuxAMD64}, Single: true, Format: Docker, Base: "debian"},
		{Ref: "docker.io/osixia/phpldapadmin:stable", Platforms: []string{linuxAMD64}, Single: true, Format: Docker, Base: "debian"},
		{Ref: "quay.io/minio/minio:latest", Platforms: two(), Format: OCI, Base: "ubi"},
		{Ref: "docker.io/redislabs/redisinsight:latest", Platforms: two(), Format: OCI, Base: "debian"},
		{Ref: "docker.io/tecnativa/tcp-proxy:latest", Platforms: two(), Format: Docker, Base: "alpine"},
		{Ref: "docker.io/library/nginx:stable-alpine-perl", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/alpine:latest", Platforms: []string{linuxAMD64, linuxARM64v8, linuxARMv7}, Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/golang:1.25-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/golang:1.24-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/node:22-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/node:18-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
		{Ref: "docker.io/library/python:3.13-alpine", Platforms: two(), Format: OCI, Base: "alpine"},
	}
}

// Domains lists the upstream domains the images come from, in order of
// first appearance, so that a demo knows which stand-in registries to
// start ("docker.io", "quay.io" for Seed).
func Domains(imgs []Image) []string {
	var out []string
	seen := map[string]bool{}
	for _, img := range imgs {
		d := domainOf(img.Ref)
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
