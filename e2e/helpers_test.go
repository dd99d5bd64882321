package e2e

import (
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/fakeupstream"
	"github.com/imagesync/imagesync/internal/imageref"
	"github.com/imagesync/imagesync/internal/lock"
)

func mustRef(t *testing.T, s string) imageref.Ref {
	t.Helper()
	r, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lockedImage(t *testing.T, l *lock.Lock, ref string) *lock.Image {
	t.Helper()
	img := l.Image(mustRef(t, ref))
	if img == nil {
		t.Fatalf("%s is not in the lock", ref)
	}
	return img
}

func refsString(refs []imageref.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

func seedImage(t *testing.T, s *stack, ref string) fakeupstream.Image {
	t.Helper()
	for _, img := range s.images {
		if img.Ref == ref {
			return img
		}
	}
	t.Fatalf("%s is not in the seed", ref)
	return fakeupstream.Image{}
}
