package scaffold

import (
	"testing"
)

// FuzzParseCompose feeds init's reading of a compose file, and the
// grouping of what it read, with arbitrary bytes: an error or "not a
// compose file", never a panic; a file read is grouped into at most one
// project or left out.
func FuzzParseCompose(f *testing.F) {
	for _, seed := range []string{
		"services:\n  web:\n    build: .\n    image: x\n",
		"name: shop\ninclude:\n  - path: [a.yaml, b.yaml]\nservices:\n  a:\n    extends: {file: ../c.yml, service: a}\n",
		"x: &a {services: *a}\n",
		"services:\n  w:\n    build: {context: ., args: [A=1, B]}\n",
		"# only comments\n",
		"services: [1, 2]\n",
	} {
		f.Add("compose.yaml", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		file, ok, err := parseCompose("dir/"+name, data)
		if err != nil || !ok {
			return
		}
		projects, left := composeProjects([]ComposeFile{file}, nil)
		if len(projects)+len(left) != 1 {
			t.Errorf("one file made %d projects and %d left out", len(projects), len(left))
		}
		for _, p := range projects {
			if p.Name == "" || sanitizeName(p.Name) != p.Name {
				t.Errorf("project name %q", p.Name)
			}
		}
	})
}

// FuzzBuildArgValues: the build arguments read from CI files and env
// files are literal values, never interpolated ones.
func FuzzBuildArgValues(f *testing.F) {
	f.Add([]byte("docker build --build-arg BASE=alpine:3.20 .\n      build-args: |\n        FROM=python:3.13\n"))
	f.Add([]byte("FROM=alpine\nexport TAG=${X}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, values := range []map[string]string{ciValues(".github/workflows/x.yml", data), envValues(data)} {
			for k, v := range values {
				if k == "" || v == "" || literal(map[string]string{k: v})[k] != v {
					t.Errorf("%q=%q is not a literal value", k, v)
				}
			}
		}
	})
}
