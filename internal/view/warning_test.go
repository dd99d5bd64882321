package view

import (
	"strings"
	"testing"
)

func TestWriteWarning(t *testing.T) {
	var b strings.Builder
	WriteWarning(&b, "x.yaml#Dashboard/main.spec.image: invalid")
	if got := b.String(); got != "imagesync: warning: x.yaml#Dashboard/main.spec.image: invalid\n" {
		t.Errorf("got %q", got)
	}
}
