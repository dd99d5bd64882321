package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ReadPlanFile reads a plan saved by `imagesync plan --out`.
func ReadPlanFile(filename string) (*Plan, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	defer f.Close()
	p, err := ReadPlan(f)
	if err != nil {
		return nil, fmt.Errorf("read saved plan %s: %w", filename, err)
	}
	return p, nil
}

// ReadPlan decodes a plan's JSON form, refusing unknown versions and
// fields that cannot be what plan wrote.
func ReadPlan(r io.Reader) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("format_version %q, this imagesync reads %q", p.FormatVersion, FormatVersion)
	}
	if p.LockSHA256 == "" {
		return nil, fmt.Errorf("it records no lock_sha256")
	}
	for i, c := range p.Changes {
		switch c.Action {
		case Create, Update, NoOp, Build, Rebuild:
		default:
			return nil, fmt.Errorf("change %d has unknown action %q", i, c.Action)
		}
		if c.Source == "" || c.Target == "" || (c.Kind != KindBuild && c.Digest == "") {
			return nil, fmt.Errorf("change %d lacks source, target or digest", i)
		}
	}
	if p.Summary != summarize(p.Changes) {
		return nil, fmt.Errorf("its summary does not match its changes")
	}
	return &p, nil
}

// WritePlan writes a plan's JSON form, indented, with a trailing newline.
func WritePlan(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
