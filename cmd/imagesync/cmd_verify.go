package main

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/verify"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *verifyArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, a.MaxWait)
	if err != nil {
		return exitError, err
	}
	rep, err := w.Verify(ctx, verify.Options{Deep: a.Deep})
	if err != nil {
		return exitError, err
	}
	switch a.format {
	case view.JSON:
		err = view.WriteVerifyJSON(e.stdout, rep)
	case view.Markdown:
		err = view.WriteVerifyMarkdown(e.stdout, rep, e.markdownOptions(w))
	default:
		err = view.WriteVerify(e.stdout, rep, w.LockName())
	}
	if err != nil {
		return exitError, err
	}
	if n := len(rep.Problems); n > 0 {
		return exitError, fmt.Errorf("verify found %s", view.Plural(n, "problem"))
	}
	return exitOK, nil
}
