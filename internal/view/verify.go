package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/verify"
)

// WriteVerify renders what verify found for people: one line when the
// target matches, else one line per problem. lockName is the lockfile as
// the user knows it.
func WriteVerify(w io.Writer, rep *verify.Report, lockName string) error {
	var b strings.Builder
	if len(rep.Problems) == 0 {
		fmt.Fprintf(&b, "Verified %s: %s.\n", Plural(rep.Images, "image"), verifiedDepth(rep))
	} else {
		fmt.Fprintf(&b, "The target registry does not match %s (%s):\n", lockName, Plural(len(rep.Problems), "problem"))
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "  %s (%s): %s\n", p.Target, p.Source, p.Detail)
		}
	}
	return writeText(w, b.String())
}

// verifiedDepth says what a verify without problems checked.
func verifiedDepth(rep *verify.Report) string {
	if rep.Deep {
		return "every target reference resolves to its locked digest, with every manifest and blob present"
	}
	return "every target reference resolves to its locked digest"
}

// verifyJSON is the JSON form of verify's report.
type verifyJSON struct {
	Deep     bool          `json:"deep"`
	Images   int           `json:"images"`
	Problems []problemJSON `json:"problems"`
}

type problemJSON struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// WriteVerifyJSON renders the same report as one JSON document.
func WriteVerifyJSON(w io.Writer, rep *verify.Report) error {
	doc := verifyJSON{Deep: rep.Deep, Images: rep.Images, Problems: []problemJSON{}}
	for _, p := range rep.Problems {
		doc.Problems = append(doc.Problems, problemJSON{Source: p.Source.String(), Target: p.Target.String(), Detail: p.Detail})
	}
	enc := json.NewEncoder(safeJSON(w))
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
