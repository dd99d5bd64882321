package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Shard
		err  string
	}{
		{in: "1/1", want: Shard{1, 1}},
		{in: "2/4", want: Shard{2, 4}},
		{in: "4/4", want: Shard{4, 4}},
		{in: "1024/1024", want: Shard{1024, 1024}},
		{in: "0/4", err: "K counts from 1 to N"},
		{in: "5/4", err: "K counts from 1 to N"},
		{in: "1/0", err: "N must be between 1 and 1024"},
		{in: "1/1025", err: "N must be between 1 and 1024"},
		{in: "-1/4", err: "K counts from 1 to N"},
		{in: "2", err: `"2" is not K/N`},
		{in: "a/4", err: "is not K/N"},
		{in: "2/4/8", err: "is not K/N"},
		{in: "", err: "is not K/N"},
	} {
		got, err := ParseShard(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseShard(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.in {
			t.Errorf("ParseShard(%q) = %v (%s), %v", tt.in, got, got, err)
		}
	}
	if !(Shard{}).IsZero() || (Shard{1, 1}).IsZero() {
		t.Error("IsZero")
	}
}

// TestShardOfStable pins the partition: runners that plan on their own
// (apply --shard K/N without a saved plan) agree only if every imagesync
// version puts a repository in the same part. The expected parts were
// computed apart from ShardOf, as the first 8 bytes of the name's sha256,
// big-endian, modulo N, plus 1:
//
//	python3 -c 'import hashlib; print(int.from_bytes(hashlib.sha256(b"REPO").digest()[:8], "big") % N + 1)'

func TestShardOfStable(t *testing.T) {
	for _, tt := range []struct {
		repo string
		n    int
		want int
	}{
		{"reg.example.com/aim/nginx", 1, 1},
		{"reg.example.com/aim/nginx", 4, 3},
		{"reg.example.com/aim/redis", 4, 1},
		{"reg.example.com/aim/minio/minio", 4, 4},
		{"127.0.0.1:5100/ai-infra-matrix/postgres", 4, 3},
		{"127.0.0.1:5100/ai-infra-matrix/postgres", 2, 1},
		{"127.0.0.1:5100/ai-infra-matrix/ai-infra-backend", 4, 3},
	} {
		if got := ShardOf(tt.repo, tt.n); got != tt.want {
			t.Errorf("ShardOf(%s, %d) = %d, want %d", tt.repo, tt.n, got, tt.want)
		}
	}
}

// TestShardOfBalanced checks that many repositories spread evenly enough:
// every part within 20% of an equal share.
func TestShardOfBalanced(t *testing.T) {
	const repos = 2000
	for _, n := range []int{2, 3, 4, 8, 16} {
		counts := make([]int, n+1)
		for i := range repos {
			k := ShardOf(fmt.Sprintf("registry.example.com/team/image-%d", i), n)
			if k < 1 || k > n {
				t.Fatalf("ShardOf(_, %d) = %d", n, k)
			}
			counts[k]++
		}
		share := repos / n
		for k := 1; k <= n; k++ {
			if counts[k] < share*8/10 || counts[k] > share*12/10 {
				t.Errorf("%d parts: part %d has %d of %d repositories (share %d): %v", n, k, counts[k], repos, share, counts[1:])
			}
		}
	}
}

// shardLock is a lock of 24 images in 12 repositories (two tags each) and
// 3 builds, one of them into a repository that an image uses too.
func shardLock() *lock.Lock {
	l := &lock.Lock{}
	for i := range 12 {
		for _, tag := range []string{"1", "2"} {
			src := fmt.Sprintf("docker.io/library/img%02d:%s", i, tag)
			l.Images = append(l.Images, lock.Image{Ref: imageref.MustParse(src), Digest: dg(src), MediaType: "application/vnd.oci.image.manifest.v1+json",
				Target: imageref.MustParse(fmt.Sprintf("reg.example.com/aim/img%02d:%s", i, tag))})
		}
	}
	for _, name := range []string{"api", "web", "img03"} {
		l.Builds = append(l.Builds, lock.Build{Ref: imageref.MustParse(name + ":v1"), Services: []string{name},
			Target: imageref.MustParse("reg.example.com/aim/" + name + ":v1"), Inputs: dg(name)})
	}
	l.Normalize()
	return l
}

func TestPartition(t *testing.T) {
	ctx := context.Background()
	l := shardLock()
	p, err := Make(ctx, l, dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole := len(p.Changes)
	seen := map[string]int{} // source -> part
	repoPart := map[string]int{}
	for k := 1; k <= 4; k++ {
		fresh, _ := Make(ctx, l, dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
		part, err := fresh.Part(Shard{k, 4})
		if err != nil {
			t.Fatal(err)
		}
		if part.Shard != k || part.Shards != 4 || len(part.Changes)+len(part.Elsewhere) != whole || part.Summary != summarize(part.Changes) {
			t.Errorf("part %d: shard %d/%d, %d + %d changes, summary %+v", k, part.Shard, part.Shards, len(part.Changes), len(part.Elsewhere), part.Summary)
		}
		for _, c := range part.Changes {
			if prev, ok := seen[c.Source.String()]; ok {
				t.Errorf("%s is in parts %d and %d", c.Source, prev, k)
			}
			seen[c.Source.String()] = k
			repo := c.Target.Repository()
			if prev, ok := repoPart[repo]; ok && prev != k {
				t.Errorf("repository %s is split over parts %d and %d", repo, prev, k)
			}
			repoPart[repo] = k
			if c.Shard != k || c.Shard != ShardOf(repo, 4) {
				t.Errorf("%s: shard %d in part %d", c.Source, c.Shard, k)
			}
		}
		for _, c := range part.Elsewhere {
			if c.Shard == k {
				t.Errorf("part %d: %s of its own part is elsewhere", k, c.Source)
			}
		}
	}
	if len(seen) != whole {
		t.Errorf("the parts hold %d of %d changes", len(seen), whole)
	}
	if repoPart["reg.example.com/aim/img03"] != seen["docker.io/library/img03:v1"] {
		t.Error("the build into img03 is not in the part of the img03 images")
	}
	if err := p.Partition(4); err != nil || p.Partition(4) != nil {
		t.Fatal(err)
	}
	if err := p.Partition(2); err == nil || !strings.Contains(err.Error(), "split into 4 parts, not 2: run every part as --shard K/4") {
		t.Errorf("Partition(2) of a plan in 4 parts: %v", err)
	}
	if _, err := p.Part(Shard{1, 3}); err == nil {
		t.Error("Part 1/3 of a plan in 4 parts")
	}
}

// TestPartitionKeepsSavedAssignment: a saved plan's parts win over the
// hash, so that runners agree with the plan whoever computes it.
func TestPartitionKeepsSavedAssignment(t *testing.T) {
	p, err := Make(context.Background(), shardLock(), dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Partition(2); err != nil {
		t.Fatal(err)
	}
	for i := range p.Changes {
		p.Changes[i].Shard = 2 // as another version might have split it
	}
	var buf bytes.Buffer
	if err := EncodePlan(&buf, p); err != nil {
		t.Fatal(err)
	}
	back, err := DecodePlan(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("a split plan does not round-trip:\n%+v\n%+v", back, p)
	}
	one, err := back.Part(Shard{1, 2})
	if err != nil || len(one.Changes) != 0 || len(one.Elsewhere) != len(p.Changes) {
		t.Errorf("part 1 = %+v, %v", one, err)
	}
}

func TestDecodePlanShards(t *testing.T) {
	p, err := Make(context.Background(), testLock(), dg("lock"), &fakeTarget{tags: map[string]digest.Digest{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := EncodePlan(&plain, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), `"shard`) {
		t.Errorf("a plan that is not split writes shard fields:\n%s", plain.String())
	}
	if err := p.Partition(3); err != nil {
		t.Fatal(err)
	}
	var split bytes.Buffer
	if err := EncodePlan(&split, p); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, doc, from, to, want string }{
		{"negative", split.String(), `"shards": 3`, `"shards": -1`, "shards: -1 parts"},
		{"out of range", split.String(), `"shards": 3`, `"shards": 1`, "of a plan split into 1 parts"},
		{"unsplit", plain.String(), `"current_digest": ""`, `"current_digest": "", "shard": 2`, "shard 2 of a plan split into 0 parts"},
	} {
		broken := strings.Replace(tt.doc, tt.from, tt.to, 1)
		if broken == tt.doc {
			t.Fatalf("%s: %q not in the plan", tt.name, tt.from)
		}
		if _, err := DecodePlan(strings.NewReader(broken)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestCheckStalePart: a part checks its own targets only, and a target
// that reached the locked digest (an interrupted run of the plan) is done,
// not stale.
func TestCheckStalePart(t *testing.T) {
	ctx := context.Background()
	target := &fakeTarget{tags: map[string]digest.Digest{}}
	p, err := Make(ctx, shardLock(), dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := p.Part(Shard{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	mine, other := part.Changes[0], part.Elsewhere[0]
	target.tags[other.Target.String()] = other.Digest // the other part's runner at work
	target.heads = 0
	if err := CheckStale(ctx, part, dg("lock"), target); err != nil {
		t.Fatalf("the other part's push makes this part stale: %v", err)
	}
	if target.heads != len(part.Changes) {
		t.Errorf("%d HEADs for a part of %d changes", target.heads, len(part.Changes))
	}

	target.tags[mine.Target.String()] = mine.Digest // landed before an interruption
	before := part.Summary
	if err := CheckStale(ctx, part, dg("lock"), target); err != nil {
		t.Fatalf("a change that landed makes the plan stale: %v", err)
	}
	if c := part.Changes[0]; c.Action != NoOp || c.CurrentDigest != mine.Digest || part.Summary.Unchanged != before.Unchanged+1 {
		t.Errorf("landed change = %+v, summary %+v (was %+v)", c, part.Summary, before)
	}

	var stale *StaleError
	target.tags[part.Changes[1].Target.String()] = dg("someone else")
	if err := CheckStale(ctx, part, dg("lock"), target); !errors.As(err, &stale) || !strings.Contains(err.Error(), part.Changes[1].Target.String()+" moved since the plan") {
		t.Errorf("a target moved elsewhere: %v", err)
	}
}

func TestCheckStaleBuildLanded(t *testing.T) {
	ctx := context.Background()
	target := &fakeTarget{tags: map[string]digest.Digest{}, labels: map[string]map[string]string{}}
	l := shardLock()
	p, err := Make(ctx, l, dg("lock"), target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	api := l.Build(imageref.MustParse("api:v1"))
	target.tags[api.Target.String()] = dg("api-img")
	target.labels[api.Target.String()] = map[string]string{lock.InputsLabel: dg("other inputs").String()}
	var stale *StaleError
	if err := CheckStale(ctx, p, dg("lock"), target); !errors.As(err, &stale) || !strings.Contains(err.Error(), api.Target.String()) {
		t.Fatalf("a build of other inputs: %v", err)
	}
	target.labels[api.Target.String()] = map[string]string{lock.InputsLabel: api.Inputs.String()}
	if err := CheckStale(ctx, p, dg("lock"), target); err != nil {
		t.Fatalf("a build of the locked inputs: %v", err)
	}
	for _, c := range p.Changes {
		if c.Source == api.Ref && (c.Action != NoOp || c.CurrentDigest != dg("api-img") || c.CurrentInputs != api.Inputs.String()) {
			t.Errorf("landed build = %+v", c)
		}
	}
}

func TestObserveBuilds(t *testing.T) {
	l := shardLock()
	target := &fakeTarget{
		tags: map[string]digest.Digest{"reg.example.com/aim/api:v1": dg("api-img"), "reg.example.com/aim/web:v1": dg("web-img")},
		labels: map[string]map[string]string{
			"reg.example.com/aim/api:v1": {lock.InputsLabel: dg("api").String()},
			"reg.example.com/aim/web:v1": {lock.InputsLabel: dg("web-old").String()},
		},
	}
	got, err := ObserveBuilds(context.Background(), target, l.Builds)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Built{
		"api":   {Digest: dg("api-img")},
		"img03": {Problem: "the target registry has no reg.example.com/aim/img03:v1"},
		"web":   {Problem: "reg.example.com/aim/web:v1 was built from inputs " + dg("web-old").String() + ", not the locked " + dg("web").String()},
	}
	for _, b := range got {
		w := want[b.Build.Services[0]]
		if b.Digest != w.Digest || b.Problem != w.Problem {
			t.Errorf("%s: %q %q, want %q %q", b.Build.Ref, b.Digest, b.Problem, w.Digest, w.Problem)
		}
	}
	target.fail = "reg.example.com/aim/web:v1"
	if _, err := ObserveBuilds(context.Background(), target, l.Builds); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a registry that cannot be asked: %v", err)
	}
}
