package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/imagesync/imagesync/internal/dockerfile"
)

// BuildArg is a discover.build_args entry init proposes: a build argument
// a Dockerfile's FROM needs and nothing gives.
type BuildArg struct {
	Name  string
	Value string
	// From says where the repository gives the value (".env",
	// "ci/build.sh"); "" makes Value a placeholder that fails lock.
	From string
	// Files are the Dockerfiles whose FROM needs it.
	Files []string
	// Others are the other values found, with where ("3.19 in Makefile").
	Others []string
	// Changes are other Dockerfiles whose images the value also changes
	// (they declare the argument with a default): build_args is global.
	Changes []string
}

// Placeholder reports whether the repository gives no value.
func (b BuildArg) Placeholder() bool { return b.From == "" }

// placeholder is the value of an argument nothing gives: not an image
// reference, so that discovery fails naming the Dockerfile and quoting it.
func placeholder(name string, files []string) string {
	return fmt.Sprintf("<set %s: the repository gives no value for FROM in %s>", name, files[0])
}

// dockerfileScan is one way a Dockerfile is built: as compose builds it
// for a service (its arguments and target), or alone, every stage.
type dockerfileScan struct {
	File string
	Data []byte
	Opts dockerfile.Options
	// Service is the compose service that builds it this way ("project
	// service"), "" for a Dockerfile discover.dockerfiles scans alone.
	Service string
}

// unsetArgs scans a Dockerfile again and again, giving each argument its
// FROM misses a stand-in value, and returns every argument it misses, or
// the error that is not about a missing argument.
func unsetArgs(s dockerfileScan) ([]string, error) {
	opts := s.Opts
	opts.BuildArgs = maps.Clone(opts.BuildArgs)
	if opts.BuildArgs == nil {
		opts.BuildArgs = map[string]string{}
	}
	var missing []string
	for range 64 { // a Dockerfile with more unset arguments is not one to guess about
		_, err := dockerfile.Scan(s.Data, opts)
		e, ok := errors.AsType[*dockerfile.Error](err)
		if err == nil || !ok || len(e.Unset) == 0 {
			slices.Sort(missing)
			return missing, err
		}
		for _, v := range e.Unset {
			missing = append(missing, v)
			opts.BuildArgs[v] = "stand-in"
		}
	}
	return missing, fmt.Errorf("%s: too many unset build arguments", s.File)
}

// valueSource is a place the repository may give a build argument's
// value: a compose file's build args, an env file, a CI file.
type valueSource struct {
	where  string
	values map[string]string
}

// proposeBuildArgs proposes an entry per argument the scans miss, with
// the value the sources give, in their order, else a placeholder.
func proposeBuildArgs(scans []dockerfileScan, sources []valueSource) ([]BuildArg, []LeftOut) {
	needs := map[string][]string{}
	var left []LeftOut
	for _, s := range scans {
		missing, err := unsetArgs(s)
		if err != nil && s.Service == "" {
			// One that compose builds is not excluded: discovery reports
			// its error with the project's, and init shows it.
			left = append(left, LeftOut{Path: s.File, Reason: about(s.File, err)})
		}
		for _, v := range missing {
			if !slices.Contains(needs[v], s.File) {
				needs[v] = append(needs[v], s.File)
			}
		}
	}
	var out []BuildArg
	for _, name := range slices.Sorted(maps.Keys(needs)) {
		b := BuildArg{Name: name, Files: needs[name]}
		slices.Sort(b.Files)
		for _, src := range sources {
			v, ok := src.values[name]
			switch {
			case !ok:
			case b.From == "":
				b.Value, b.From = v, src.where
			case v != b.Value:
				b.Others = append(b.Others, v+" in "+src.where)
			}
		}
		if b.Placeholder() {
			b.Value = placeholder(name, b.Files)
		}
		out = append(out, b)
	}
	return out, left
}

// changedBy lists the scans whose images the build arguments change:
// a Dockerfile that declares one of them with a default of its own.
func changedBy(args []BuildArg, scans []dockerfileScan) {
	for i := range args {
		for _, s := range scans {
			if slices.Contains(args[i].Files, s.File) || slices.Contains(args[i].Changes, s.File) {
				continue
			}
			before, err := dockerfile.Scan(s.Data, s.Opts)
			if err != nil {
				continue
			}
			opts := s.Opts
			opts.BuildArgs = maps.Clone(opts.BuildArgs)
			if opts.BuildArgs == nil {
				opts.BuildArgs = map[string]string{}
			}
			if _, own := opts.BuildArgs[args[i].Name]; own {
				continue // the service's own value wins
			}
			opts.BuildArgs[args[i].Name] = args[i].Value
			after, err := dockerfile.Scan(s.Data, opts)
			if err != nil || !slices.Equal(before, after) {
				args[i].Changes = append(args[i].Changes, s.File)
			}
		}
	}
}

// envValues reads an env file's variables with compose's own dotenv
// parser, never looking anything up in the OS environment: a variable a
// value uses is put back as written, "$" and all, so that literal drops
// the value (and dotenv has no unset variable to warn about).
func envValues(data []byte) map[string]string {
	values, err := dotenv.UnmarshalBytesWithLookup(data, func(name string) (string, bool) { return "${" + name + "}", true })
	if err != nil {
		return nil
	}
	return literal(values)
}

// buildArgFlag matches "--build-arg NAME=value" (or =, or quoted) in a
// script or CI file; buildArgLine a "NAME=value" line of a CI file's
// build-args list (docker/build-push-action).
var (
	buildArgFlag = regexp.MustCompile(`--build-arg(?:=|\s+)["']?([A-Za-z_][A-Za-z0-9_]*)=([^\s"'\\]+)`)
	buildArgLine = regexp.MustCompile(`(?m)^\s*(?:-\s*)?["']?([A-Za-z_][A-Za-z0-9_]*)=([^\s"'\\]+)["']?\s*$`)
)

// ciValues finds the build arguments a CI file or script passes with a
// literal value.
func ciValues(rel string, data []byte) map[string]string {
	out := map[string]string{}
	for _, m := range buildArgFlag.FindAllSubmatch(data, -1) {
		if _, seen := out[string(m[1])]; !seen {
			out[string(m[1])] = string(m[2])
		}
	}
	if isCIFile(rel) && isYAMLName(path.Base(rel)) {
		for _, m := range buildArgLine.FindAllSubmatch(data, -1) {
			if _, seen := out[string(m[1])]; !seen {
				out[string(m[1])] = string(m[2])
			}
		}
	}
	return literal(out)
}

// literal drops the values that are not written out (interpolated,
// templated, empty), and names that are none.
func literal(values map[string]string) map[string]string {
	for k, v := range values {
		if k == "" || v == "" || strings.Contains(v, "$") || strings.Contains(v, "{{") {
			delete(values, k)
		}
	}
	return values
}

// firstLine is the first line of a message.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// about is the first line of an error about file, less the file's name
// at its start ("Dockerfile:3: x" is "line 3: x").
func about(file string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return fs.ErrNotExist.Error() // the name is already said
	}
	msg := firstLine(err.Error())
	rest, ok := strings.CutPrefix(msg, file+":")
	if !ok {
		return msg
	}
	if line, text, found := strings.Cut(rest, ":"); found && line != "" && strings.Trim(line, "0123456789") == "" {
		return "line " + line + ":" + text
	}
	return strings.TrimSpace(rest)
}
