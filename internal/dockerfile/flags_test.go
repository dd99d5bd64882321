package dockerfile

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// flagSeeds are inputs that test the corners of how the parser reads
// flags: quotes, escapes (both escape characters), the "--" word, blanks
// other than spaces, bytes of multi-byte characters, an escape at the end.
var flagSeeds = []string{
	"COPY --from=a --chown=1:1 src dst\n",
	"COPY --from='a b' \"--chmod=7 55\" src dst\n",
	"RUN --mount=type=bind,\"from=x y\",target=/t true\n",
	"RUN --mount=type=cache\\ ,target=/c true\n",
	"RUN --mount=type=cache,target=/c\\\n",
	"RUN --a='unterminated\n",
	"RUN --a='ends in an escape\\\n",
	"RUN --a=\\'\\\" --b\n",
	"RUN -- --not-a-flag\n",
	"RUN --\"\" --not-a-flag\n",
	"RUN --a --\n",
	"RUN --a -b --c\n",
	"RUN\t--a\v--b\f--c\r--d x\n",
	"RUN --a=é --b=x\u00a0y --c=\u0160 --d=\u0105 x\n",
	"RUN --a=\u0085 --b\n",
	"RUN --a=\x00 --b=\"\x00\" x\n",
	"ONBUILD COPY --from=img --link / /\n",
	"ONBUILD RUN --mount=from=\"a b\" true\n",
	"# escape=`\nCOPY --from=`\"x --chown=`` src dst\n",
	"# escape=`\nRUN --a=\"q`\"q\" --b=c\\d x\n",
	"FROM --platform=$BUILDPLATFORM alpine AS a\n",
	"FROM   --platform=linux/arm64   alpine   as   run\n",
	"COPY --from=a \\\n  --chown=1 \\\n# a comment\n  src dst\n",
	"HEALTHCHECK --interval=5s CMD true\n",
	"RUN --a\x85b --c\n",
}

// readCorpusFile returns the first value of a file of a fuzz corpus
// (testdata/fuzz/FuzzXxx/*), the []byte of a Dockerfile in all of this
// package's fuzz targets.
func readCorpusFile(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus file", file)
	}
	lit, ok := strings.CutPrefix(lines[1], "[]byte(")
	if lit, ok = strings.CutSuffix(lit, ")"); !ok {
		t.Fatalf("%s: the first value is not a []byte: %s", file, lines[1])
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return []byte(s)
}

// flagCorpus is every Dockerfile of this package's fuzz corpora: the seeds
// of FuzzScan, FuzzRewrite and FuzzScanFlags, and the inputs under
// testdata/fuzz.
func flagCorpus(t *testing.T) map[string][]byte {
	corpus := make(map[string][]byte)
	for _, tt := range dfTests {
		corpus["dfTests/"+tt.name] = []byte(tt.in)
	}
	for _, tt := range rewriteTests {
		corpus["rewriteTests/"+tt.name] = []byte(tt.in)
	}
	for i, seed := range rewriteSeeds {
		corpus[fmt.Sprint("rewriteSeeds/", i)] = []byte(seed.in)
	}
	for i, seed := range flagSeeds {
		corpus[fmt.Sprint("flagSeeds/", i)] = []byte(seed)
	}
	for file, data := range exampleDockerfiles(t) {
		corpus[file] = data
	}
	files, err := filepath.Glob("testdata/fuzz/*/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		corpus[file] = readCorpusFile(t, file)
	}
	return corpus
}

// checkFlags checks scanFlags against the parser on every instruction of
// data and every ONBUILD trigger: the same flags, each where scanFlags
// says it is (its text alone scans to that one flag). Input the parser
// refuses has no flags to compare.
func checkFlags(data []byte) error {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	for _, node := range res.AST.Children {
		nodes := []*parser.Node{node}
		if strings.EqualFold(node.Value, "onbuild") && node.Next != nil && len(node.Next.Children) == 1 {
			nodes = append(nodes, node.Next.Children[0])
		}
		for _, n := range nodes {
			if err := checkNodeFlags(n, res.EscapeToken); err != nil {
				return fmt.Errorf("line %d: %w", node.StartLine, err)
			}
		}
	}
	return nil
}

func checkNodeFlags(n *parser.Node, esc rune) error {
	lay, err := layoutOf(n.Original, 0, n, esc)
	if err != nil {
		return err // the flags differ
	}
	for _, f := range lay.flags {
		text := n.Original[f.start:f.end]
		again, rest := scanFlags(text, esc)
		if len(again) != 1 || again[0].value != f.value || again[0].end != len(text) || rest != len(text) {
			return fmt.Errorf("flag %q of %q: its text %q scans as %+v, rest %d", f.value, n.Original, text, again, rest)
		}
	}
	return nil
}

// TestScanFlagsMatchesTheParser holds scanFlags equal to the flags
// BuildKit's parser reads (Node.Flags) on every input of the fuzz corpora.
func TestScanFlagsMatchesTheParser(t *testing.T) {
	corpus := flagCorpus(t)
	flags := 0
	for _, name := range slices.Sorted(maps.Keys(corpus)) {
		if err := checkFlags(corpus[name]); err != nil {
			t.Errorf("%s: %v\n%q", name, err, corpus[name])
		}
		if res, err := parser.Parse(bytes.NewReader(corpus[name])); err == nil {
			for _, n := range res.AST.Children {
				flags += len(n.Flags)
			}
		}
	}
	// The corpus must hold flags for the comparison to mean something.
	if flags < 100 {
		t.Errorf("the corpus holds only %d flags", flags)
	}
}

// TestScanFlags pins down what scanFlags reads from a few texts, offsets
// included, so that a change in BuildKit's parser and in scanFlags alike
// does not pass unnoticed.
func TestScanFlags(t *testing.T) {
	tests := []struct {
		args string
		esc  rune
		want string // "start-end:value" per flag, then "rest=N"
	}{
		{"--from=a src dst", '\\', "0-8:--from=a rest=9"},
		{"--a='b c' \"--d\"x y", '\\', "0-9:--a=b c rest=10"},
		{"--a=\"q\\\"q\" y", '\\', "0-10:--a=q\"q rest=11"},
		{"--a=q`\"q y", '`', "0-8:--a=q\"q rest=9"},
		{"--a -- --b", '\\', "0-3:--a rest=6"},
		{"--a --", '\\', "0-3:--a rest=6"},
		{"--a\\", '\\', "0-4:--a rest=4"},
		{"--a='b\\", '\\', "0-7:--a=b rest=7"},
		{"--a=\u00a0b", '\\', "0-5:--a=\u00c2 rest=6"},
		{"--a=é", '\\', "0-6:--a=\u00c3\u00a9 rest=6"},
		{"-a --b", '\\', "rest=0"},
		{"  ", '\\', "rest=2"},
	}
	for _, tt := range tests {
		flags, rest := scanFlags(tt.args, tt.esc)
		var got []string
		for _, f := range flags {
			got = append(got, fmt.Sprintf("%d-%d:%s", f.start, f.end, f.value))
		}
		got = append(got, fmt.Sprint("rest=", rest))
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("scanFlags(%q) = %q, want %q", tt.args, s, tt.want)
		}
	}
}

// FuzzScanFlags checks scanFlags against the parser on any input.
func FuzzScanFlags(f *testing.F) {
	for _, seed := range flagSeeds {
		f.Add([]byte(seed))
	}
	for _, tt := range dfTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkFlags(data); err != nil {
			t.Fatal(err)
		}
	})
}
