package main

import (
	"context"
	"fmt"

	"github.com/imagesync/imagesync/internal/view"
)

func runImages(ctx context.Context, e *env, args []string) (int, error) {
	a, err := parseImages(args)
	if err != nil {
		return exitUsage, err
	}
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
