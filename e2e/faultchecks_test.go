package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/testregistry"
)

// checkNoCorruptUpload fails if the target ever received a whole blob
// upload whose bytes do not match its digest: the registry would refuse it
// (400 DIGEST_INVALID), but imagesync must not even send it whole, let
// alone rely on every registry checking. The storage check after each
// case verifies every stored blob hashes to its name.
func checkNoCorruptUpload(t *testing.T, f *faultRig, mark int) {
	t.Helper()
	for _, req := range accessLog(t, f.target(), mark) {
		if kind, _, _ := req.Endpoint(); kind == testregistry.KindBlobUpload && req.Method == http.MethodPut && req.Status == http.StatusBadRequest {
			t.Errorf("the target received a whole upload whose bytes did not match its digest: %s %s -> %d", req.Method, req.Path, req.Status)
		}
	}
	checkStoredBlobs(t, f.dstStorage)
}

// checkStoredBlobs fails if any blob in a docker-registry storage directory
// does not hash to the digest it is stored under.
func checkStoredBlobs(t *testing.T, storage string) int {
	t.Helper()
	root := filepath.Join(storage, "docker", "registry", "v2", "blobs", "sha256")
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "data" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if want := filepath.Base(filepath.Dir(p)); hex.EncodeToString(sum[:]) != want {
			t.Errorf("target storage holds blob %s whose bytes hash to %x", want, sum)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// failedTargets are the targets apply reported as failed ("Apply failed
// for ..." lines) with their messages, and whether it printed its summary
// at all.
func failedTargets(res result) (failed, messages []string, summarized bool) {
	out := res.stdout + res.stderr
	i := strings.Index(out, "Apply failed for ")
	if i < 0 {
		return nil, nil, strings.Contains(out, "Apply complete!")
	}
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		target, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		failed = append(failed, target)
		messages = append(messages, strings.TrimSpace(line))
	}
	return failed, messages, true
}

// verifyProblems runs verify --deep --json and returns the targets with
// problems.
func (r *rig) verifyProblems() map[string][]string {
	r.t.Helper()
	res := r.run("verify", "--deep", "--json")
	var v struct {
		Problems []struct{ Target, Detail string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
		r.t.Fatalf("verify --deep --json: %v\n%v", err, res)
	}
	out := map[string][]string{}
	for _, p := range v.Problems {
		out[p.Target] = append(out[p.Target], p.Detail)
	}
	return out
}

// failureCause picks the words of a failure that name what went wrong.
func failureCause(out string) string {
	for _, s := range []string{"502 Bad Gateway", "connection reset", "connection refused", "EOF", "broken pipe", "timeout", "stalled"} {
		if strings.Contains(out, s) {
			return s
		}
	}
	return "?"
}
