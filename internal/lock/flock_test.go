//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAcquireWaitsForHolder(t *testing.T) {
	lockfile := filepath.Join(t.TempDir(), "images.lock")
	first, err := Acquire(context.Background(), lockfile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pid := strings.TrimSpace(readString(t, SidecarPath(lockfile))); pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("sidecar holds %q, want our pid", pid)
	}
	var waitedFor string
	got := make(chan *FileLock)
	go func() {
		l, err := Acquire(context.Background(), lockfile, func(holder string) { waitedFor = holder })
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	select {
	case <-got:
		t.Fatal("a second Acquire got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case second := <-got:
		if waitedFor != "pid "+strconv.Itoa(os.Getpid()) {
			t.Errorf("onWait got %q, want the holder's pid", waitedFor)
		}
		if err := second.Release(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second Acquire did not get the lock after Release")
	}
	if _, err := os.Stat(SidecarPath(lockfile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left the sidecar: %v", err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
}

func TestAcquireCancelled(t *testing.T) {
	lockfile := filepath.Join(t.TempDir(), "images.lock")
	held, err := Acquire(context.Background(), lockfile, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, lockfile, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with a busy lock and an ending context: %v", err)
	}
}

func TestAcquireStaleSidecar(t *testing.T) {
	lockfile := filepath.Join(t.TempDir(), "images.lock")
	// A holder that crashed leaves its sidecar, but no lock.
	if err := os.WriteFile(SidecarPath(lockfile), []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := Acquire(ctx, lockfile, func(string) { t.Error("waited for a holder that is gone") })
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// TestAcquireSerializesReadModifyWrite: goroutines each take the lock,
// read a counter file, and write it back plus one, with WriteFile; no
// increment is lost. Without the lock, most would be.
func TestAcquireSerializesReadModifyWrite(t *testing.T) {
	lockfile := filepath.Join(t.TempDir(), "images.lock")
	if err := WriteFile(lockfile, []byte("0")); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := increment(lockfile); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := readString(t, lockfile); got != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d locked increments", got, n)
	}
}

// TestAcquireAcrossProcesses: the same with processes, as two imagesync
// runs are: each child takes the lock, reads the counter, sleeps, writes
// it back plus one.
func TestAcquireAcrossProcesses(t *testing.T) {
	if os.Getenv("IMAGESYNC_FLOCK_CHILD") != "" {
		return
	}
	lockfile := filepath.Join(t.TempDir(), "images.lock")
	if err := WriteFile(lockfile, []byte("0")); err != nil {
		t.Fatal(err)
	}
	const n = 4
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFlockChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IMAGESYNC_FLOCK_CHILD="+lockfile)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}
	if got := readString(t, lockfile); got != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d processes each incremented it once", got, n)
	}
}

// TestFlockChild is the child of TestAcquireAcrossProcesses.
func TestFlockChild(t *testing.T) {
	lockfile := os.Getenv("IMAGESYNC_FLOCK_CHILD")
	if lockfile == "" {
		t.Skip("only run as a child of TestAcquireAcrossProcesses")
	}
	if err := incrementSlowly(lockfile, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func increment(lockfile string) error { return incrementSlowly(lockfile, time.Millisecond) }

func incrementSlowly(lockfile string, pause time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Acquire(ctx, lockfile, nil)
	if err != nil {
		return err
	}
	defer l.Release()
	b, err := os.ReadFile(lockfile)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("counter %q: %w", b, err)
	}
	time.Sleep(pause) // resolving
	return WriteFile(lockfile, []byte(strconv.Itoa(v+1)))
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAcquireRefusesHostileSidecar: a repository that commits
// images.lock.lock as a link (to a file of its own or outside) or as a
// FIFO gets an error naming it, and the file a link points to is neither
// truncated nor written.
func TestAcquireRefusesHostileSidecar(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, dir, sidecar string)
		wantErr string
	}{
		{"a link to a file outside", func(t *testing.T, dir, sidecar string) {
			if err := os.Symlink("../victim", sidecar); err != nil {
				t.Fatal(err)
			}
		}, `images.lock.lock is a symbolic link to "../victim": the lock's sidecar is never followed`},
		{"a link to a file of the repository", func(t *testing.T, dir, sidecar string) {
			if err := os.Symlink("Dockerfile", sidecar); err != nil {
				t.Fatal(err)
			}
		}, `images.lock.lock is a symbolic link to "Dockerfile"`},
		{"a FIFO", func(t *testing.T, dir, sidecar string) {
			if err := syscall.Mkfifo(sidecar, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "images.lock.lock is a FIFO, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "repo")
			victims := map[string]string{filepath.Join(parent, "victim"): "outside, untouched\n", filepath.Join(dir, "Dockerfile"): "FROM alpine\n"}
			for f, content := range victims {
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lockfile := filepath.Join(dir, "images.lock")
			tt.make(t, dir, SidecarPath(lockfile))
			l, err := Acquire(context.Background(), lockfile, nil)
			if err == nil {
				l.Release()
				t.Fatal("Acquire took a hostile sidecar")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
			for f, content := range victims {
				if got := readString(t, f); got != content {
					t.Errorf("%s was changed to %q", f, got)
				}
			}
		})
	}
}
