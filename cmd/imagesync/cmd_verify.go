package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/imagesync/imagesync/internal/diff"
	"github.com/imagesync/imagesync/internal/registry"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *verifyArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	l, _, err := w.loadLock(e)
	if err != nil {
		return exitError, err
	}
	if l == nil {
		return exitError, fmt.Errorf("%s does not exist: run \"imagesync lock\" first", w.relLock())
	}
	client := registry.New(w.cfg, registry.WithLogger(e.logger))
	problems, err := diff.Verify(ctx, l, client, a.Deep)
	if err != nil {
		return exitError, err
	}
	if a.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if problems == nil {
			problems = []diff.Problem{}
		}
		if err := enc.Encode(map[string]any{"deep": a.Deep, "images": len(l.Images), "problems": problems}); err != nil {
			return exitError, err
		}
	} else if len(problems) == 0 {
		depth := "every target reference resolves to its locked digest"
		if a.Deep {
			depth += ", with every manifest and blob present"
		}
		fmt.Fprintf(e.stdout, "Verified %d images: %s.\n", len(l.Images), depth)
	} else {
		fmt.Fprintf(e.stdout, "The target registry does not match %s (%s):\n", w.relLock(), view.Plural(len(problems), "problem"))
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "  %s (%s): %s\n", p.Target, p.Source, p.Detail)
		}
	}
	if len(problems) > 0 {
		return exitError, fmt.Errorf("verify found %s", view.Plural(len(problems), "problem"))
	}
	return exitOK, nil
}
