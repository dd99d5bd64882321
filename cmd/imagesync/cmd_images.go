package main

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/view"
)

func (a *imagesArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := loadWorkspace(e, &a.globals)
	if err != nil {
		return exitError, err
	}
	var list view.ImageList
	if a.Discovered {
		found, err := w.discover(ctx)
		if err != nil {
			return exitError, err
		}
		list = view.DiscoveredImages(found)
	} else {
		l, _, err := w.loadLock(e)
		if err != nil {
			return exitError, err
		}
		if l == nil {
			return exitError, fmt.Errorf("%s does not exist: run \"imagesync lock\" first, or use --discovered", w.relLock())
		}
		list = view.LockedImages(l)
	}
	if a.JSON {
		return exitOK, view.WriteImagesJSON(e.stdout, list)
	}
	return exitOK, view.WriteImagesTable(e.stdout, list)
}
