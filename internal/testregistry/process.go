package testregistry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopTimeout is how long Close waits after SIGTERM before it kills.
const stopTimeout = 5 * time.Second

// errAddrInUse marks a start that failed because the port was taken, which
// Start retries on another free port.
var errAddrInUse = errors.New("address already in use")

// process is a docker-registry child process.
type process struct {
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // valid after exited is closed
}

// startProcess writes a config, starts docker-registry and waits until it
// answers. On failure it cleans up everything it made.
func startProcess(ctx context.Context, o options) (*Server, error) {
	addr := o.addr
	if addr == "" {
		var err error
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	workDir, storageDir, err := newWorkDir(o)
	if err != nil {
		return nil, err
	}
	s := &Server{addr: addr, scheme: "http", workDir: workDir}
	if o.certFile != "" {
		s.scheme = "https"
	}
	cfgPath := filepath.Join(workDir, "config.yml")
	if err := os.WriteFile(cfgPath, configYAML(o, addr, storageDir), 0o600); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("writing registry config: %w", err)
	}
	s.proc, err = spawn(cfgPath, filepath.Join(workDir, "registry.log"))
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := waitReady(ctx, s.URL(), s.proc.exited, s.proc.listening); err != nil {
		tail := logTail(s.proc.logPath)
		_ = s.Close()
		switch {
		case strings.Contains(tail, "address already in use"):
			err = errAddrInUse
		case errors.Is(err, errExited):
			err = fmt.Errorf("%w: %v", err, s.proc.waitErr) // Close waited, so waitErr is set
		}
		return nil, fmt.Errorf("starting %s on %s: %w\nregistry log tail:\n%s", Binary(), addr, err, tail)
	}
	return s, nil
}

// spawn starts "docker-registry serve cfgPath" with its stdout (the access
// log) and stderr (everything else) appended to logPath.
func spawn(cfgPath, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating registry log: %w", err)
	}
	cmd := exec.Command(Binary(), "serve", cfgPath)
	cmd.Dir = filepath.Dir(cfgPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = registryEnv()
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", Binary(), err)
	}
	p := &process{cmd: cmd, logPath: logPath, logFile: logFile, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// registryEnv is our environment without REGISTRY_* variables: distribution
// lets those override any config key, and a stray REGISTRY_HTTP_ADDR in a
// developer's shell must not move the test registry.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// listening reports whether the registry has logged that it bound its
// address, which it does before serving.
func (p *process) listening() bool {
	b, err := os.ReadFile(p.logPath)
	return err == nil && bytes.Contains(b, []byte(`msg="listening on `))
}

// stop sends SIGTERM, kills after stopTimeout, and waits for the exit.
func (p *process) stop() error {
	defer p.logFile.Close()
	select {
	case <-p.exited:
		return nil // already gone, e.g. after a failed start
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing registry pid %d: %w", p.cmd.Process.Pid, err)
	}
	<-p.exited
	return nil
}

// logTail is the end of the registry log for error messages: the lines
// that say why it would not start.
func logTail(path string) string {
	const maxTail = 4 << 10
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > maxTail {
		b = b[len(b)-maxTail:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// configYAML renders distribution's configuration. Strings are written as
// JSON strings, which YAML reads as double-quoted scalars, so that paths
// with odd characters need no YAML escaping rules of our own.
func configYAML(o options, addr, storageDir string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("version: 0.1")
	w("log:")
	w("  level: info")
	w("  accesslog:")
	w("    disabled: false")
	w("storage:")
	w("  filesystem:")
	w("    rootdirectory: %s", quote(storageDir))
	w("  delete:")
	w("    enabled: %t", o.deleteEnabled)
	w("  maintenance:")
	w("    uploadpurging:")
	w("      enabled: false")
	w("http:")
	w("  addr: %s", quote(addr))
	// An explicit secret silences the "generated random secret" warning;
	// a random one per server is fine since nothing balances across them.
	w("  secret: %s", quote(randomSecret()))
	if o.certFile != "" {
		w("  tls:")
		w("    certificate: %s", quote(o.certFile))
		w("    key: %s", quote(o.keyFile))
	}
	if o.htpasswd != "" {
		w("auth:")
		w("  htpasswd:")
		w("    realm: %s", quote("testregistry"))
		w("    path: %s", quote(o.htpasswd))
	}
	// Health checks would only add periodic noise to the log.
	w("health:")
	w("  storagedriver:")
	w("    enabled: false")
	return []byte(b.String())
}

func quote(s string) string {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	return string(b)
}

func randomSecret() string {
	var b [16]byte
	_, _ = io.ReadFull(rand.Reader, b[:]) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b[:])
}
