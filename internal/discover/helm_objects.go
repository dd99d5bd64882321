package discover

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/imagesync/imagesync/internal/helmrender"
	"github.com/imagesync/imagesync/internal/kube"
)

// helmObjects reads the objects of a release's documents, found at prefix.
//
// An object whose name changes from one render to the next (a test Pod
// named with randAlphaNum) goes by a key that does not: its kind, the
// template it comes from and its position there, "Pod@web/templates/
// tests/test.yaml[1]", so that locators, and the lock, are the same on
// every run. An image that changes between renders is an error: no lock
// can pin it.
//
// A document that cannot be read is a warning when it sets no image (helm
// template and kubectl accept what yaml.v3 refuses, such as some non-string
// keys), an error naming it otherwise; every such error of the release
// comes at once.
func (c *collector) helmObjects(prefix string, docs []helmrender.Document) ([]locatedObject, error) {
	var out []locatedObject
	var errs []error
	for _, d := range docs {
		where := fmt.Sprintf("%s (template %s, document %d)", describeObject(d.Content), d.Template, d.Index)
		objs, err := kube.Decode([]byte(d.Content))
		if err != nil {
			if !setsImage.MatchString(d.Content) {
				c.warnings = append(c.warnings, fmt.Sprintf("%s: %s cannot be read and sets no image: left out (%v)", prefix, where, err))
			} else {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
			continue
		}
		suffix := ""
		if d.Events != nil {
			suffix = " (hook " + strings.Join(d.Events, ",") + ")"
		}
		unstable, err := renderedTwice(objs, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		for i, o := range objs {
			lo := locatedObject{Object: o, suffix: suffix}
			if unstable {
				lo.key = fmt.Sprintf("%s@%s[%d]", o.Kind, d.Template, d.Index)
				if len(objs) > 1 {
					lo.key += fmt.Sprintf("[%d]", i)
				}
			}
			out = append(out, lo)
		}
	}
	return out, errors.Join(errs...)
}

// renderedTwice compares the objects of a document with those of its
// second render: unstable when a name differs, an error when an image
// does.
func renderedTwice(objs []kube.Object, d helmrender.Document) (unstable bool, err error) {
	if d.Again == d.Content {
		return false, nil
	}
	again, err := kube.Decode([]byte(d.Again))
	if err != nil || len(again) != len(objs) {
		return true, nil // what differs is read from the first render
	}
	for i, o := range objs {
		a := again[i]
		if o.Kind != a.Kind || o.Name != a.Name || o.Namespace != a.Namespace {
			unstable = true
		}
		first, second := kube.Images(o.Content), kube.Images(a.Content)
		if !slices.EqualFunc(first, second, func(x, y kube.Field) bool { return x.Value == y.Value }) {
			return false, fmt.Errorf("its images differ from one render to the next (%s, then %s): the template computes them "+
				"(rand*, now, uuidv4, ...), so no lock could pin them", fieldValues(first), fieldValues(second))
		}
	}
	return unstable, nil
}

// fieldValues lists the values of image fields, for messages.
func fieldValues(fields []kube.Field) string {
	var out []string
	for _, f := range fields {
		out = append(out, fmt.Sprintf("%q", f.Value))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// setsImage matches a document that may set an image: a key "image".
var setsImage = regexp.MustCompile(`\bimage["']?\s*:`)

// describeObject names the object of a document as its head says,
// "Deployment/web", as far as it can be read.
func describeObject(content string) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(content), &head); err != nil || head.Kind == "" {
		return "an object"
	}
	return head.Kind + "/" + head.Metadata.Name
}
