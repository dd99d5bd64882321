package lock

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
)

var update = flag.Bool("update", false, "rewrite golden files")

func dg(s string) digest.Digest { return digest.FromString(s) }

func sampleLock() *Lock {
	return &Lock{
		Images: []Image{
			{Ref: imageref.MustParse("quay.io/minio/minio:latest"), Digest: dg("minio"),
				MediaType: "application/vnd.oci.image.index.v1+json", Platforms: []string{"linux/arm64", "linux/amd64"},
				Target:  imageref.MustParse("reg.example.com/aim/minio/minio:latest"),
				Sources: []string{"docker-compose.yml#services.minio.image"}},
			{Ref: imageref.MustParse("nginx:1.27-alpine"), Digest: dg("nginx"),
				MediaType: "application/vnd.docker.distribution.manifest.list.v2+json", Platforms: []string{"linux/amd64"},
				Target:  imageref.MustParse("reg.example.com/aim/nginx:1.27-alpine"),
				Sources: []string{"src/web/Dockerfile#FROM 1", "docker-compose.yml#services.gateway.image"}},
			{Ref: imageref.MustParse("alpine@" + dg("alpine").String()), Digest: dg("alpine"),
				MediaType: "application/vnd.oci.image.manifest.v1+json", Platforms: []string{"linux/amd64"},
				Target:  imageref.MustParse("reg.example.com/aim/alpine@" + dg("alpine").String()),
				Sources: []string{"tools/Dockerfile#FROM 0"}},
		},
		Builds: []Build{
			{Ref: imageref.MustParse("ai-infra-backend:v0.3.5"), Services: []string{"backend"}, Context: "src/backend",
				Dockerfile: "src/backend/Dockerfile", TargetStage: "runtime",
				Bases:  []imageref.Ref{imageref.MustParse("nginx:1.27-alpine"), imageref.MustParse("golang:1.25-alpine")},
				Target: imageref.MustParse("reg.example.com/aim/ai-infra-backend:v0.3.5"), Inputs: dg("inputs")},
			{Ref: imageref.MustParse("ai-infra-nginx:v0.3.5"), Services: []string{"nginx"}, Context: "src/nginx",
				Dockerfile: "src/nginx/Dockerfile",
				Target:     imageref.MustParse("reg.example.com/aim/ai-infra-nginx:v0.3.5"), Inputs: dg("inputs2")},
			{Ref: imageref.MustParse("ai-infra-saltstack:v0.3.5"), Services: []string{"salt-master-2", "salt-master-1"},
				Context: "src/saltstack", Dockerfile: "src/saltstack/Dockerfile",
				Bases:  []imageref.Ref{imageref.MustParse("alpine@" + dg("alpine").String())},
				Target: imageref.MustParse("reg.example.com/aim/ai-infra-saltstack:v0.3.5"), Inputs: dg("inputs3")},
		},
	}
}

func TestFormatGolden(t *testing.T) {
	got := Format(sampleLock())
	golden := filepath.Join("testdata", "sample.lock")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Format differs from %s (run go test -update):\n%s", golden, got)
	}
	if bytes.Contains(got, []byte("\r")) || !bytes.HasSuffix(got, []byte("}\n")) {
		t.Error("want LF line endings and a trailing newline")
	}
}

func TestFormatDeterministic(t *testing.T) {
	want := Format(sampleLock())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		l := sampleLock()
		rng.Shuffle(len(l.Images), func(i, j int) { l.Images[i], l.Images[j] = l.Images[j], l.Images[i] })
		rng.Shuffle(len(l.Builds), func(i, j int) { l.Builds[i], l.Builds[j] = l.Builds[j], l.Builds[i] })
		for k := range l.Images {
			s := l.Images[k].Sources
			rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
			p := l.Images[k].Platforms
			rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		}
		if got := Format(l); !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d gave different bytes:\n%s", i, got)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	src := Format(sampleLock())
	l, diags := Parse(hclparse.NewParser(), "images.lock", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if again := Format(l); !bytes.Equal(again, src) {
		t.Errorf("round trip changed the file:\n%s", again)
	}
	if img := l.Image(imageref.MustParse("nginx:1.27-alpine")); img == nil || img.Digest != dg("nginx") {
		t.Errorf("Image lookup = %+v", img)
	}
	if b := l.Build(imageref.MustParse("ai-infra-nginx:v0.3.5")); b == nil || strings.Join(b.Services, ",") != "nginx" {
		t.Errorf("Build lookup = %+v", b)
	}
	if b := l.Build(imageref.MustParse("ai-infra-saltstack:v0.3.5")); b == nil || strings.Join(b.Services, ",") != "salt-master-1,salt-master-2" {
		t.Errorf("shared build = %+v", b)
	}
}

// TestServicesAttribute: a build of one service is written `service = "x"`
// as locks always had it, a shared build `services = [...]`, sorted; a
// one-item services list is read too and written back the usual way.
func TestServicesAttribute(t *testing.T) {
	src := string(Format(sampleLock()))
	if !strings.Contains(src, `  service    = "nginx"`+"\n") ||
		!strings.Contains(src, "  services = [\n    \"salt-master-1\",\n    \"salt-master-2\",\n  ]\n") {
		t.Fatalf("services written as:\n%s", src)
	}
	oneItem := strings.Replace(src, `service    = "nginx"`, `services   = ["nginx"]`, 1)
	l, diags := Parse(hclparse.NewParser(), "images.lock", []byte(oneItem))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := string(Format(l)); got != src {
		t.Errorf("services = [\"nginx\"] formats as:\n%s", got)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(Format(sampleLock()))
	tests := []struct {
		name, src, want string
	}{
		{"bad digest", strings.Replace(good, dg("nginx").String(), "sha256:1234", 1), "Invalid digest in lockfile"},
		{"md5 digest", strings.Replace(good, dg("nginx").String(), "md5:d41d8cd98f00b204e9800998ecf8427e", 1), "Invalid digest in lockfile"},
		{"unknown attribute", strings.Replace(good, "media_type", "mediatype", 1), "Unsupported argument"},
		{"unknown block", good + "\nprovider \"x\" {}\n", "Unsupported block type"},
		{"duplicate", good + "\n" + good[strings.Index(good, "image \"docker.io/library/alpine"):strings.Index(good, "image \"docker.io/library/nginx")], "Duplicate entry"},
		{"not canonical", strings.Replace(good, `image "docker.io/library/nginx:1.27-alpine"`, `image "nginx:1.27-alpine"`, 1), "Invalid reference in lockfile"},
		{"bad ref", strings.Replace(good, `image "docker.io/library/nginx:1.27-alpine"`, `image "NGINX"`, 1), "Invalid reference in lockfile"},
		{"missing digest", strings.Replace(good, "  digest     = \""+dg("nginx").String()+"\"\n", "", 1), "Missing required argument"},
		{"pinned mismatch", strings.Replace(good, "digest     = \""+dg("alpine").String(), "digest     = \""+dg("other").String(), 1), "Digest does not match reference"},
		{"syntax", good[:len(good)/2], ""},
		{"wrong type", strings.Replace(good, `service    = "nginx"`, `service    = ["nginx"]`, 1), "Unsuitable value type"},
		{"variable", strings.Replace(good, `service    = "nginx"`, `service    = var.x`, 1), "Variables not allowed"},
		{"service and services", strings.Replace(good, `service    = "nginx"`, `service    = "nginx"`+"\n  services = [\"web\"]", 1), "Conflicting attributes in lockfile"},
		{"empty services", strings.Replace(good, `service    = "nginx"`, `services   = []`, 1), "Empty services in lockfile"},
		{"services not a list", strings.Replace(good, `service    = "nginx"`, `services   = "nginx"`, 1), "Unsuitable value type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src == good {
				t.Fatal("test case did not change the input")
			}
			l, diags := Parse(hclparse.NewParser(), "images.lock", []byte(tt.src))
			if !diags.HasErrors() || l != nil {
				t.Fatalf("no error")
			}
			var summaries []string
			for _, d := range diags {
				summaries = append(summaries, d.Summary)
			}
			if !strings.Contains(strings.Join(summaries, "\n"), tt.want) {
				t.Errorf("diags = %v, want %q", summaries, tt.want)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without range: %v", d)
				}
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "images.lock")
	if err := WriteFile(path, []byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if string(got) != "two\n" || len(entries) != 1 {
		t.Errorf("content %q, %d files left in dir", got, len(entries))
	}
	// A directory that cannot be written to leaves the old file intact.
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 { // root ignores directory permissions
		if err := WriteFile(path, []byte("three\n")); err == nil {
			t.Error("write into read-only dir succeeded")
		}
		if got, _ := os.ReadFile(path); string(got) != "two\n" {
			t.Errorf("old lock damaged: %q", got)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if f, diags := Load(hclparse.NewParser(), filepath.Join(dir, "images.lock")); f != nil || len(diags) != 0 {
		t.Errorf("missing lockfile: file %v, diags %v; want neither", f, diags)
	}
	if f, diags := Load(hclparse.NewParser(), dir); f != nil || !diags.HasErrors() || diags[0].Summary != "Cannot read the lockfile" {
		t.Errorf("unreadable lockfile: file %v, diags %v", f, diags)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "sample.lock"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "images.lock")
	if err := WriteFile(path, src); err != nil {
		t.Fatal(err)
	}
	f, diags := Load(hclparse.NewParser(), path)
	if diags.HasErrors() || f == nil || len(f.Lock.Images) == 0 || f.Sum() != digest.FromBytes(src) {
		t.Fatalf("sample lock: %v %v", f, diags)
	}
	if err := os.WriteFile(path, []byte("image \"x\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, diags := Load(hclparse.NewParser(), path); f != nil || !diags.HasErrors() {
		t.Errorf("broken lockfile: file %v, diags %v", f, diags)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Format(sampleLock()))
	f.Add(Format(scopeLock()))
	f.Add([]byte("image \"x\" {}\n"))
	f.Add([]byte("build \"docker.io/library/a:b\" {\n context = 1\n}\n"))
	f.Add([]byte("build \"docker.io/library/a:b\" {\n services = [\"y\", \"x\", \"x\"]\n context = \"c\"\n dockerfile = \"d\"\n" +
		" target = \"r.example.com/a:b\"\n inputs = \"" + dg("i").String() + "\"\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		l, diags := Parse(hclparse.NewParser(), "images.lock", src)
		if diags.HasErrors() != (l == nil) {
			t.Fatalf("lock %v with diagnostics %v", l, diags)
		}
		if l == nil {
			return
		}
		for _, img := range l.Images {
			if img.Digest.Validate() != nil {
				t.Fatalf("accepted invalid digest %q", img.Digest)
			}
		}
		// Whatever parses must format and parse back to the same lock.
		again, diags := Parse(hclparse.NewParser(), "images.lock", Format(l))
		if diags.HasErrors() || !bytes.Equal(Format(again), Format(l)) {
			t.Fatalf("reformatted lock does not round-trip: %v", diags)
		}
	})
}
