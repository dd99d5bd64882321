package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
	"github.com/imagesync/imagesync/internal/referrers"
)

// savedLock is scopeLock with the builds of TestMakeBuilds: every kind
// of entry a saved plan can carry.
func savedLock() *lock.Lock {
	l := scopeLock()
	l.Builds = []lock.Build{{Ref: imageref.MustParse("api:v1"), Services: []string{"api"},
		Target: imageref.MustParse("reg.example.com/aim/api:v1"), Inputs: dg("api-in")}}
	l.Normalize()
	return l
}

// savedPlan is the plan of savedLock against an empty target, as JSON
// (what `plan --out` writes and an attacker edits).
func savedPlan(t testing.TB, shards int) string {
	t.Helper()
	p, err := Make(context.Background(), savedLock(), dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if shards > 0 {
		if err := p.Partition(shards); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := EncodePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCheckAgainstLock: issue 19 case 3. A saved plan edited after `plan
// --out` (a CI artifact passed to the apply job) is refused, naming the
// change, for every field apply acts on; the plan as written passes.
func TestCheckAgainstLock(t *testing.T) {
	doc := savedPlan(t, 0)
	nginx := `"source": "docker.io/library/nginx:1.27-alpine",` + "\n      \"target\": \"reg.example.com/aim/nginx:1.27-alpine\""
	sigTag := "sha256-" + dg("redis-new").Encoded() + ".sig"
	for _, tt := range []struct{ name, from, to, want string }{
		{"as written", "", "", ""},
		{"target", nginx, strings.Replace(nginx, "aim/nginx:1.27-alpine", "other/anything:1.27-alpine", 1),
			"change 2 (image docker.io/library/nginx:1.27-alpine): target reg.example.com/other/anything:1.27-alpine, images.lock says reg.example.com/aim/nginx:1.27-alpine"},
		{"target on another host", nginx, strings.Replace(nginx, "reg.example.com/aim", "docker.io/library", 1),
			"target docker.io/library/nginx:1.27-alpine, images.lock says"},
		{"digest of another image", `"digest": "` + dg("nginx").String(), `"digest": "` + dg("redis-new").String(),
			"digest " + dg("redis-new").String() + ", images.lock says " + dg("nginx").String()},
		{"source not locked", `"source": "docker.io/library/nginx:1.27-alpine"`, `"source": "docker.io/library/nginx:9"`,
			"(image docker.io/library/nginx:9): images.lock has no such image"},
		{"filtered digest", `"target_digest": "` + dg("minio-amd64-index").String(), `"target_digest": "` + dg("evil").String(),
			"target_digest " + dg("evil").String()},
		{"platform mode", `"platform_mode": "filter"`, `"platform_mode": "sparse"`, "platform_mode sparse, images.lock says filter"},
		{"platforms", `"linux/amd64",`, `"linux/386",`, "platforms linux/386, linux/arm64"},
		{"media type", `"media_type": "application/vnd.oci.image.index.v1+json"`, `"media_type": "x"`, "media_type x"},
		{"referrer digest", `"digest": "` + dg("classic").String(), `"digest": "` + dg("evil").String(),
			"referrer " + dg("evil").String() + " (tag " + sigTag + ") is not pinned so in images.lock"},
		{"referrer subject", dg("minio-amd64").Encoded(), dg("nginx").Encoded(), "is not pinned so"}, // and its fallback tag
		{"build inputs", `"inputs": "` + dg("api-in").String(), `"inputs": "` + dg("evil").String(), "inputs " + dg("evil").String()},
		{"build target", `"target": "reg.example.com/aim/api:v1"`, `"target": "reg.example.com/aim/web:v1"`, "(build docker.io/library/api:v1): target"},
		{"build with a digest", `"kind": "build",` + "\n      \"action\": \"build\",", `"kind": "build",` + "\n      \"action\": \"build\", \"platforms\": [\"x\"],",
			"a build has no digest, platforms or referrers"},
		{"image as a build", `"kind": "image",` + "\n      \"action\": \"create\",\n      \"source\": \"docker.io/library/nginx", `"kind": "build", "inputs": "` + dg("api-in").String() + `",` + "\n      \"action\": \"create\",\n      \"source\": \"docker.io/library/nginx",
			"images.lock has no such build"},
		{"build action on an image", `"kind": "image",` + "\n      \"action\": \"create\",", `"kind": "image",` + "\n      \"action\": \"build\",", `action "build" is not one of an image`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := strings.Replace(doc, tt.from, tt.to, 1)
			if tt.name == "referrer subject" {
				edited = strings.ReplaceAll(doc, tt.from, tt.to)
			}
			if edited == doc && tt.from != "" {
				t.Fatalf("%q is not in the plan:\n%s", tt.from, doc)
			}
			if strings.Contains(tt.to, `"action": "build"`) && !strings.Contains(tt.from, `"action": "build"`) {
				// One create fewer, one build more: the summary must agree.
				edited = strings.Replace(edited, "\"create\": 4,\n    \"update\": 0,\n    \"build\": 1,", "\"create\": 3,\n    \"update\": 0,\n    \"build\": 2,", 1)
			}
			p, err := DecodePlan(strings.NewReader(edited))
			if err != nil {
				t.Fatalf("the edited plan does not decode: %v", err)
			}
			err = CheckAgainstLock(p, savedLock())
			var mismatch *MismatchError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("the plan as written: %v", err)
			case tt.want == "":
			case !errors.As(err, &mismatch) || !strings.Contains(err.Error(), tt.want):
				t.Errorf("err = %v\nwant %q", err, tt.want)
			case !strings.Contains(err.Error(), "nothing was pushed"):
				t.Errorf("the error does not say nothing was pushed: %v", err)
			}
		})
	}
}

// TestCheckAgainstLockShards: a change moved to another part, or planned
// twice, is refused; the parts ShardOf gives pass.
func TestCheckAgainstLockShards(t *testing.T) {
	ctx := context.Background()
	p, err := Make(ctx, shardLock(), dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Partition(3); err != nil {
		t.Fatal(err)
	}
	if err := CheckAgainstLock(p, shardLock()); err != nil {
		t.Fatalf("the split plan as made: %v", err)
	}
	moved := *p
	moved.Changes = append([]Change(nil), p.Changes...)
	moved.Changes[0].Shard = moved.Changes[0].Shard%3 + 1
	if err := CheckAgainstLock(&moved, shardLock()); err == nil || !strings.Contains(err.Error(), "its target repository goes to part") {
		t.Errorf("a change moved to another part: %v", err)
	}
	twice := *p
	twice.Changes = append(append([]Change(nil), p.Changes...), p.Changes[0])
	if err := CheckAgainstLock(&twice, shardLock()); err == nil || !strings.Contains(err.Error(), "planned more than once") {
		t.Errorf("a change planned twice: %v", err)
	}
}

// TestCheckSaved: the lock's sha256 is checked first, with the stale
// plan's message.
func TestCheckSaved(t *testing.T) {
	src := lock.Format(savedLock())
	f := &lock.File{Lock: savedLock(), Source: src}
	p, err := DecodePlan(strings.NewReader(strings.Replace(savedPlan(t, 0), dg("lock").String(), f.Sum().String(), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSaved(p, f); err != nil {
		t.Errorf("a plan of this lock: %v", err)
	}
	p.Changes[0].Digest = dg("evil")
	var stale *StaleError
	if err := CheckSaved(p, &lock.File{Lock: savedLock(), Source: append(src, '\n')}); !errors.As(err, &stale) {
		t.Errorf("another lock: %v", err)
	}
	var mismatch *MismatchError
	if err := CheckSaved(p, f); !errors.As(err, &mismatch) {
		t.Errorf("an edited digest: %v", err)
	}
}

// TestDecodePlanStrict: the plan file is untrusted input; unknown fields,
// data after the document, a referrer tag out of its scheme and a file
// beyond the bound are refused, and a plan file must be a regular file.
func TestDecodePlanStrict(t *testing.T) {
	doc := savedPlan(t, 0)
	sigTag := "sha256-" + dg("redis-new").Encoded() + ".sig"
	for _, tt := range []struct{ name, doc, want string }{
		{"unknown field", strings.Replace(doc, `"format_version": "1",`, `"format_version": "1", "run": "rm -rf /",`, 1), `unknown field "run"`},
		{"unknown change field", strings.Replace(doc, `"kind": "image",`, `"kind": "image", "extra_tags": ["latest"],`, 1), `unknown field "extra_tags"`},
		{"trailing data", doc + `{"format_version": "1"}`, "more data after the plan's document"},
		{"any referrer tag", strings.Replace(doc, sigTag, "latest", 1), "not cosign's tag of the subject"},
		{"path as referrer tag", strings.Replace(doc, sigTag, "../../latest", 1), "not a valid tag"},
		{"tags apply does not write", strings.Replace(doc, `"tags": [`+"\n        \"1.27-alpine\"", `"tags": [`+"\n        \"latest\"", 1), "are not those apply writes"},
		{"unusual without its digests", strings.Replace(doc, `"kind": "image",`, `"kind": "image", "upstream": {"unusual": true},`, 1), "unusual is true"},
		{"outside target registry", strings.Replace(doc, `"format_version": "1",`, `"format_version": "1", "targets_outside_target_registry": ["x.io/a:1"],`, 1), "does not match its changes"},
		{"too large", doc + strings.Repeat(" ", maxPlanFile), "larger than 64 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == doc {
				t.Fatal("the case changes nothing")
			}
			if _, err := DecodePlan(strings.NewReader(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if runtime.GOOS != "windows" {
		if _, err := LoadPlan("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadPlan(/dev/zero) = %v", err)
		}
	}
	dir := t.TempDir()
	if _, err := LoadPlan(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadPlan(directory) = %v", err)
	}
	path := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPlan(path); err != nil {
		t.Errorf("LoadPlan of a plan: %v", err)
	}
}

// FuzzDecodePlan drives the plan decoder and the check against the lock
// with any bytes: neither panics; a plan that decodes encodes to a plan
// that decodes the same; a plan that passes the check asks apply only
// for what the lock holds.
func FuzzDecodePlan(f *testing.F) {
	f.Add([]byte(savedPlan(f, 0)))
	f.Add([]byte(savedPlan(f, 3)))
	f.Add([]byte(`{"format_version": "1", "lock_sha256": "` + dg("lock").String() + `", "changes": [], "summary": {}}`))
	l := savedLock()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePlan(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := EncodePlan(&b, p); err != nil {
			t.Fatalf("a decoded plan does not encode: %v", err)
		}
		again, err := DecodePlan(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("an encoded plan does not decode: %v\n%s", err, b.String())
		}
		var b2 bytes.Buffer
		if err := EncodePlan(&b2, again); err != nil || b2.String() != b.String() {
			t.Fatalf("the round trip changed the plan: %v\n%s\n%s", err, b.String(), b2.String())
		}
		if CheckAgainstLock(p, l) != nil {
			return
		}
		for _, c := range p.Changes {
			if c.Kind == KindBuild {
				if b := l.Build(c.Source); b == nil || b.Target != c.Target || b.Inputs != c.Inputs {
					t.Fatalf("a checked build is not the lock's: %+v", c)
				}
				continue
			}
			img := l.Image(c.Source)
			if img == nil || img.Target != c.Target || img.TargetDigest() != c.TargetDigest() {
				t.Fatalf("a checked change is not the lock's: %+v", c)
			}
			for _, a := range c.Referrers {
				if referrers.CheckTag(a) != nil {
					t.Fatalf("a checked referrer has a tag out of its scheme: %+v", a)
				}
			}
		}
	})
}

// TestDecodePlanWithoutTags: a plan written before the tags were listed
// still reads (apply does not read them); one that lists them must list
// those apply writes (TestDecodePlanStrict).
func TestDecodePlanWithoutTags(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(savedPlan(t, 0)), &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc["changes"].([]any) {
		delete(c.(map[string]any), "tags")
		delete(c.(map[string]any), "fallback_tags")
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodePlan(bytes.NewReader(data)); err != nil {
		t.Errorf("a plan without tags: %v", err)
	}
}
