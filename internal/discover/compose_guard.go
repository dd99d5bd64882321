package discover

// This file holds the guards LoadCompose puts around compose-go: the
// tracker of unset variables in image-deciding values, and the check for
// self-referencing YAML anchors.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/tree"
	"go.yaml.in/yaml/v4"

	"github.com/imagesync/imagesync/internal/excerpt"
)

// unsetTracker finds the variables that are unset and have no default in
// the values that decide images. compose-go only warns about them and
// substitutes "", which would turn "postgres:${TAG}" into "postgres:".
//
// It rides on compose-go's own interpolation, so every value is seen exactly
// as compose interpolates it, in the main files and in included and extended
// ones alike. Its Substitute runs compose's template engine with a mapping
// that returns a marker (with ok=false, so defaults and required checks
// behave as usual) for an unset variable: a marker left in the result is an
// unset variable whose empty value compose would have used. It strips the
// markers and remembers them until the next value. interp.Interpolate walks
// the tree sequentially and, right after substituting a string, calls the
// TypeCastMapping caster of its path: the casters lenientLoad registers for
// the image paths append a token to the value if markers were found. Tokens thus end
// up in the project only where a tainted value survives merging, overrides
// and extends, and check turns them into errors naming the service.
type unsetTracker struct {
	nonce   string   // makes markers and tokens impossible to forge in a file
	raw     string   // the value last given to substitute, as written
	missing []string // the unset variables whose empty value it used
	ids     map[string]int
	events  []unsetEvent // indexed by token id; shared by all loads of one LoadCompose
}

// unsetEvent is a value, as written, that used unset variables.
type unsetEvent struct {
	raw  string
	vars []string
}

// newUnsetTracker returns a tracker with a fresh random nonce.
func newUnsetTracker() *unsetTracker {
	return &unsetTracker{nonce: rand.Text(), ids: map[string]int{}}
}

// imagePaths are the paths, in compose-go's interpolation tree, of the
// values that decide images.
func imagePaths() []tree.Path {
	paths := []tree.Path{"services.*.image", "services.*.build"} // build: short syntax
	for _, f := range []string{"context", "dockerfile", "dockerfile_inline", "target",
		"args.*", "additional_contexts.*", "platforms.*"} { // "*" also matches list items
		paths = append(paths, tree.Path("services.*.build."+f))
	}
	return paths
}

// substitute is template.Substitute without logrus warnings and with the
// unset variables recorded.
func (t *unsetTracker) substitute(value string, mapping template.Mapping) (string, error) {
	marked := func(name string) (string, bool) {
		if v, ok := mapping(name); ok {
			return v, true
		}
		return t.marker(name), false
	}
	out, err := template.SubstituteWithOptions(value, marked,
		template.WithoutLogging, template.WithReplacementFunction(t.replace))
	out, t.missing = t.unmark(out)
	t.raw = value
	var required *template.MissingRequiredError
	if errors.As(err, &required) {
		required.Reason, _ = t.unmark(required.Reason)
	}
	return out, err
}

// replace is compose's replacement function, except that `${VAR:+x}` and
// `${VAR+x}` with VAR unset give "" without a marker: compose-go returns
// the unset value there, but the author did handle the unset case.
func (t *unsetTracker) replace(s string, m template.Mapping, cfg *template.Config) (string, error) {
	v, applied, err := template.DefaultReplacementAppliedFunc(s, m, cfg)
	if name, ok := presenceVariable(s); ok && applied && err == nil {
		v = strings.TrimPrefix(v, t.marker(name))
	}
	return v, err
}

// presenceVariable returns VAR if s starts with `${VAR:+` or `${VAR+`.
// Such templates nested in a default are not seen here and conservatively
// count as unset.
func presenceVariable(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "${")
	if !ok {
		return "", false
	}
	i := strings.IndexFunc(rest, func(r rune) bool {
		return r != '_' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z')
	})
	if i <= 0 || !(strings.HasPrefix(rest[i:], ":+") || strings.HasPrefix(rest[i:], "+")) {
		return "", false
	}
	return rest[:i], true
}

func (t *unsetTracker) marker(name string) string { return "\x00" + t.nonce + ":" + name + "\x00" }

// unmark removes the markers from s and returns the variables they named.
func (t *unsetTracker) unmark(s string) (string, []string) {
	prefix := "\x00" + t.nonce + ":"
	var names []string
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			return s, names
		}
		name, rest, ok := strings.Cut(s[i+len(prefix):], "\x00")
		if !ok {
			return s, names
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		s = s[:i] + rest
	}
}

// cast is the caster of the image paths: it runs right after substitute
// on the same value and tags the value if substitute found unset variables.
func (t *unsetTracker) cast(value string) (any, error) {
	if len(t.missing) == 0 {
		return value, nil
	}
	key := t.raw + "\x00" + strings.Join(t.missing, ",")
	id, ok := t.ids[key]
	if !ok {
		id = len(t.events)
		t.ids[key] = id
		t.events = append(t.events, unsetEvent{raw: t.raw, vars: t.missing})
	}
	return value + t.tokenPrefix() + strconv.Itoa(id) + "}", nil
}

func (t *unsetTracker) tokenPrefix() string { return "{imagesync-unset-" + t.nonce + "-" }

// check returns an error if one of values carries a token.
func (t *unsetTracker) check(file, service, field string, values ...string) error {
	for _, v := range values {
		_, rest, found := strings.Cut(v, t.tokenPrefix())
		if !found {
			continue
		}
		ev := unsetEvent{raw: v, vars: []string{"?"}}
		idText, _, _ := strings.Cut(rest, "}")
		if id, err := strconv.Atoi(idText); err == nil && id >= 0 && id < len(t.events) {
			ev = t.events[id]
		}
		what := "variable " + ev.vars[0] + " is not set and has"
		if len(ev.vars) > 1 {
			what = "variables " + strings.Join(ev.vars, ", ") + " are not set and have"
		}
		return fmt.Errorf("load compose %s: service %q: %s %s: %s no default", file, service, field, excerpt.Quote(ev.raw), what)
	}
	return nil
}

// checkAnchorCycles rejects a YAML anchor whose value contains an alias to
// itself, like `x: &a {<<: *a}`: compose-go's !reset pre-pass exempts merge
// keys from its cycle check and then walks the cycle up to its node visit
// limit with a quadratic check, which takes minutes. YAML aliases only refer
// to earlier anchors, so such a cycle always goes through an open ancestor.
// Files that do not parse are left to compose-go, which reports them better.
func checkAnchorCycles(content []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil
		}
		if err := anchorCycle(&doc, map[*yaml.Node]bool{}); err != nil {
			return err
		}
	}
}

// anchorCycle looks for an alias below n to a node that is still open.
func anchorCycle(n *yaml.Node, open map[*yaml.Node]bool) error {
	if n.Kind == yaml.AliasNode {
		if open[n.Alias] {
			return fmt.Errorf("line %d: alias *%s refers to the anchor that contains it", n.Line, n.Value)
		}
		return nil
	}
	open[n] = true
	defer delete(open, n)
	for _, c := range n.Content {
		if err := anchorCycle(c, open); err != nil {
			return err
		}
	}
	return nil
}
