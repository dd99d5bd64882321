package render

import (
	"bytes"
	"encoding/json"
)

// imageJSON is one image of `imagesync render json`.
type imageJSON struct {
	Source string `json:"source"` // as images.lock names it
	Target string `json:"target"` // the lock's target reference, with its tag
	Digest string `json:"digest"` // what the target holds: deploy <target repository>@<digest>
}

// JSON writes every pin as a JSON array of {"source", "target", "digest"},
// mirrored images then builds, each sorted by source, for scripts. Builds
// not in the target with the locked inputs are listed in one error.
func JSON(pins *Pins) ([]byte, error) {
	out := []imageJSON{}
	var notBuilt notBuiltError
	for _, p := range pins.all {
		if p.Problem != "" {
			notBuilt.add(p.Source.String()+" ("+servicesLabel(p.Services)+")", p.Problem)
			continue
		}
		out = append(out, imageJSON{Source: p.Source.String(), Target: p.Target.String(), Digest: p.Digest.String()})
	}
	if err := notBuilt.err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
