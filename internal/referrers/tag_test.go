package referrers

import (
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCheckTag(t *testing.T) {
	subject := digest.FromString("subject")
	cosign := "sha256-" + subject.Encoded()
	for _, tt := range []struct {
		name string
		a    Artifact
		want string // "" for none
	}{
		{"signature", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: cosign + ".sig"}, ""},
		{"attestation", Artifact{Via: ViaTag, Kind: Attestation, Subject: subject, Tag: cosign + ".att"}, ""},
		{"sbom as attestation", Artifact{Via: ViaTag, Kind: SBOM, Subject: subject, Tag: cosign + ".att"}, ""},
		{"sbom", Artifact{Via: ViaTag, Kind: SBOM, Subject: subject, Tag: cosign + ".sbom"}, ""},
		{"referrer", Artifact{Via: ViaReferrers, Kind: Other, Subject: subject}, ""},
		{"referrer with a tag", Artifact{Via: ViaReferrers, Subject: subject, Tag: "x"}, "has no tag"},
		{"any tag", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: "latest"}, "not cosign's tag of the subject"},
		{"dot dot", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: "../latest"}, "not a valid tag"},
		{"slash", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: cosign + "/x.sig"}, "not a valid tag"},
		{"another subject", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: "sha256-" + digest.FromString("x").Encoded() + ".sig"}, "not cosign's tag"},
		{"fallback tag", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: cosign}, "not cosign's tag"},
		{"other suffix", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: cosign + ".sig2"}, "not cosign's tag"},
		{"kind of another suffix", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: cosign + ".att"}, "holds a attestation, not a signature"},
		{"too long", Artifact{Via: ViaTag, Kind: Signature, Subject: subject, Tag: strings.Repeat("a", 129)}, "not a valid tag"},
		{"unknown via", Artifact{Via: "smoke", Subject: subject}, `via "smoke"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTag(tt.a)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("CheckTag = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWrittenTags(t *testing.T) {
	index, child := digest.FromString("index"), digest.FromString("child")
	arts := []Artifact{
		{Via: ViaReferrers, Subject: child, Digest: digest.FromString("a")},
		{Via: ViaReferrers, Subject: child, Digest: digest.FromString("b")},
		{Via: ViaTag, Subject: index, Tag: "sha256-" + index.Encoded() + ".sig"},
	}
	want := []WrittenTag{{Tag: "sha256-" + child.Encoded(), Fallback: true}, {Tag: "sha256-" + index.Encoded() + ".sig"}}
	if child.Encoded() > index.Encoded() {
		want[0], want[1] = want[1], want[0]
	}
	if got := WrittenTags(arts); !reflect.DeepEqual(got, want) {
		t.Errorf("WrittenTags = %+v, want %+v", got, want)
	}
	if got := WrittenTags(nil); got != nil {
		t.Errorf("WrittenTags(nil) = %v", got)
	}
}
