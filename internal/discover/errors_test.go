package discover

import (
	"strings"
	"testing"

	"github.com/imagesync/imagesync/internal/dockerfile"
)

// TestScanDockerfileAdvice: a Dockerfile's error says what to do about it
// in images.hcl, after what the scan found.
func TestScanDockerfileAdvice(t *testing.T) {
	const path = "src/web/Dockerfile"
	unset := path + ":2: FROM ${BASE}: variable BASE is not set: declare a default (ARG BASE=<value>) before the first FROM or set it in build_args"
	tests := []struct {
		name string
		in   string
		opts dockerfile.Options // Path is set by the test
		want string             // the whole message, or its end after "..."
	}{
		{name: "template placeholder in the image", in: "FROM alpine\nFROM {{REGISTRY}}/python:3.12\n",
			want: path + `:2: FROM {{REGISTRY}}/python:3.12: invalid image reference "{{REGISTRY}}/python:3.12": invalid reference format (` + templateHint + ")"},
		{name: "template placeholder BuildKit refuses", in: "FROM python:{{ PY_VERSION }}\n", want: "...(" + templateHint + ")"},
		{name: "template placeholder in an ARG", in: "ARG V={{V}}\nFROM python:$V\n", want: "...(" + templateHint + ")"},
		{name: "no template, no hint", in: "FROM alpine\nFROM nginx:1.27:bad\n",
			want: path + `:2: FROM nginx:1.27:bad: invalid image reference "nginx:1.27:bad": invalid reference format`},
		{name: "a fragment without FROM", in: "RUN true\n",
			want: path + ": no FROM instruction: this is not a Dockerfile docker can build (a fragment that another file includes?); leave it out with discover.exclude"},
		{name: "all stages: an unset variable in a stage the last one does not reach", in: "ARG BASE\nFROM ${BASE} AS old\nFROM alpine\n",
			opts: dockerfile.Options{AllStages: true}, want: unset + " (every stage counts in a Dockerfile no compose service builds;" +
				" discover.dockerfile_targets narrows it to the stages of one target)"},
		{name: "all stages narrowed to a target", in: "ARG BASE\nFROM ${BASE} AS old\nFROM alpine\n",
			opts: dockerfile.Options{AllStages: true, Target: "old"}, want: unset},
		{name: "the stages of the last one", in: "ARG BASE\nFROM alpine\nFROM ${BASE}\n",
			want: strings.Replace(unset, ":2:", ":3:", 1)},
		{name: "unset and a template", in: "ARG BASE\nFROM ${BASE}{{x}} AS old\nFROM alpine\n",
			opts: dockerfile.Options{AllStages: true}, want: "...to the stages of one target) (" + templateHint + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Path = path
			_, err := scanDockerfile([]byte(tt.in), opts)
			if err == nil {
				t.Fatal("no error")
			}
			if end, ok := strings.CutPrefix(tt.want, "..."); ok && !strings.HasSuffix(err.Error(), end) {
				t.Errorf("error\n\t%v\nwant one ending in\n\t%s", err, end)
			} else if !ok && err.Error() != tt.want {
				t.Errorf("error\n\t%v\nwant\n\t%s", err, tt.want)
			}
		})
	}
}
