package discover

import (
	"strings"
	"testing"
)

func TestParseSkaffold(t *testing.T) {
	sk, err := parseSkaffold([]byte(skaffoldRepo["skaffold.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, image := range []string{"adservice", "cartservice", "loadgenerator", "emailservice"} {
		a, ok := sk.artifacts[image]
		if !ok {
			t.Fatalf("%s missing: %+v", image, sk.artifacts)
		}
		line := image + " context=" + a.Context + " builder=" + a.builder
		if a.Docker != nil {
			line += " dockerfile=" + a.Docker.Dockerfile + " target=" + a.Docker.Target
		}
		got = append(got, line)
	}
	want := []string{
		"adservice context=src/adservice builder= dockerfile= target=",
		"cartservice context=src/cartservice/src builder= dockerfile=Dockerfile.prod target=release",
		"loadgenerator context= builder=jib",
		"emailservice context=src/emailservice builder=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("artifacts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := parseSkaffold([]byte("build:\n  artifacts: {image: x}\n")); err == nil {
		t.Error("artifacts that are no list are accepted")
	}
}

// FuzzParseSkaffold reads arbitrary skaffold.yaml content: no input may
// crash, and every artifact kept has an image.
func FuzzParseSkaffold(f *testing.F) {
	f.Add([]byte(skaffoldRepo["skaffold.yaml"]))
	f.Add([]byte("build:\n  artifacts:\n    - image: a\n      docker: {buildArgs: {X: null}}\n---\nprofiles: [{build: {artifacts: [{image: b, ko: {}}]}}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sk, _ := parseSkaffold(data)
		for image := range sk.artifacts {
			if image == "" {
				t.Fatal("an artifact without image")
			}
		}
	})
}
