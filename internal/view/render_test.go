package view

import (
	"bytes"
	"context"
	"testing"

	"github.com/imagesync/imagesync/internal/diff"
)

// TestImagesTargetDigests lists the fixture lock with what fixtureTarget
// holds: worker built from its locked inputs, web from others, api and
// saltstack not built.
func TestImagesTargetDigests(t *testing.T) {
	l, _ := fixtureLock(t)
	built, err := diff.ObserveBuilds(context.Background(), fixtureTarget{}, l.Builds)
	if err != nil {
		t.Fatal(err)
	}
	list := WithTargetDigests(LockedImages(l), l, built)
	var buf bytes.Buffer
	if err := WriteImagesTable(&buf, list); err != nil {
		t.Fatal(err)
	}
	golden(t, "images-target.txt", buf.Bytes())
	buf.Reset()
	if err := WriteImagesJSON(&buf, list); err != nil {
		t.Fatal(err)
	}
	golden(t, "images-target.json", buf.Bytes())
}

// TestPlanShard renders one part of the fixture's plan split in three.
func TestPlanShard(t *testing.T) {
	part, err := buildPlan(t).Part(diff.Shard{K: 2, N: 3})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePlan(&buf, part, true); err != nil {
		t.Fatal(err)
	}
	if err := WriteShard(&buf, part); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-shard.txt", buf.Bytes())
	buf.Reset()
	if err := WriteShard(&buf, buildPlan(t)); err != nil || buf.Len() != 0 {
		t.Errorf("a whole plan says %q, %v", buf.String(), err)
	}
}

func TestRendered(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteRenderNotes(&buf, []string{"service debug: docker.io/redislabs/redisinsight:latest is not in images.lock (left as it is)"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteRendered(&buf, "compose", "compose.mirror.yaml", 12); err != nil {
		t.Fatal(err)
	}
	if err := WriteRendered(&buf, "env", ".env.mirror", 0); err != nil {
		t.Fatal(err)
	}
	want := "imagesync: left alone: service debug: docker.io/redislabs/redisinsight:latest is not in images.lock (left as it is)\n" +
		"Wrote compose.mirror.yaml: 12 services from the target registry by digest.\n" +
		"Wrote .env.mirror.\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
