package main

import (
	"strings"
	"testing"
)

// TestProgressBars checks when apply draws bars: on a terminal only, and
// not on a dumb one; NO_COLOR changes nothing, there being no colour.
func TestProgressBars(t *testing.T) {
	for _, tt := range []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{true, map[string]string{"TERM": "xterm-256color"}, true},
		{true, nil, true},
		{true, map[string]string{"TERM": "dumb"}, false},
		{false, map[string]string{"TERM": "xterm"}, false},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, true},
	} {
		e := &env{stdoutTTY: tt.tty, lookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }}
		if got := e.progressBars(); got != tt.want {
			t.Errorf("tty %v, env %v: bars %v, want %v", tt.tty, tt.env, got, tt.want)
		}
	}
}

// TestNoColour checks that no output of the views carries an escape
// sequence: the help, the usage and the completion scripts.
func TestNoColour(t *testing.T) {
	for _, line := range [][]string{{"help"}, {"help", "plan"}, {"version", "--json"}, {"completion", "bash"}} {
		_, stdout, stderr := runLine(t, line...)
		if strings.Contains(stdout+stderr, "\x1b[") {
			t.Errorf("imagesync %v writes an escape sequence", line)
		}
	}
}
