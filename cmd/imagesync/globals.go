package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"
)

// The environment variables of the global flags, for CI jobs that set them
// once for every step. The command line wins over them.
const (
	envDirectory = "IMAGESYNC_DIRECTORY" // -C
	envConfig    = "IMAGESYNC_CONFIG"    // --config
	envLockfile  = "IMAGESYNC_LOCKFILE"  // --lockfile
)

// globalEnv maps each global flag that an environment variable sets to
// that variable.
var globalEnv = [...]struct{ flag, env string }{
	{"directory", envDirectory},
	{"config", envConfig},
	{"lockfile", envLockfile},
}

// setFromEnv sets the global flags of fs from their environment variables,
// before the command line is parsed, so that a flag given on it wins. An
// empty variable counts as unset. getenv may be nil (no environment).
func setFromEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, g := range globalEnv {
		v := getenv(g.env)
		if v == "" {
			continue
		}
		if err := fs.Set(g.flag, v); err != nil {
			return fmt.Errorf("%s: %w", g.env, err)
		}
	}
	return nil
}

// parseLogLevel reads a value of --log-level.
func parseLogLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// check refuses global flags that contradict each other or have no
// meaning; an error is a usage error.
func (g *globals) check() error {
	if _, ok := parseLogLevel(g.LogLevel); g.LogLevel != "" && !ok {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.LogLevel)
	}
	if g.Debug && g.LogLevel != "" && g.LogLevel != "debug" {
		return fmt.Errorf("--debug is --log-level debug: it cannot be combined with --log-level %s", g.LogLevel)
	}
	switch g.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.LogFormat)
	}
	return nil
}

// level is the level the flags choose: warn unless --debug or --log-level
// says otherwise.
func (g *globals) level() slog.Level {
	if g.Debug {
		return slog.LevelDebug
	}
	if l, ok := parseLogLevel(g.LogLevel); ok {
		return l
	}
	return slog.LevelWarn
}

// logger is the logger the flags choose, writing to w (stderr, so that a
// command's result on stdout stays clean).
func (g *globals) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: g.level()}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
