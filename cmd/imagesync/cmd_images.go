package main

import (
	"context"

	"github.com/imagesync/imagesync/internal/view"
)

func (a *imagesArgs) run(ctx context.Context, e *env) (int, error) {
	w, err := openWorkspace(e, &a.globals, 0)
	if err != nil {
		return exitError, err
	}
	var list view.ImageList
	if a.Discovered {
		found, err := w.Discover(ctx)
		if err != nil {
			return exitError, err
		}
		list = view.DiscoveredImages(found, w.Config().TargetFor)
	} else {
		l, err := w.LockedImages()
		if err != nil {
			return exitError, err
		}
		list = view.LockedImages(l)
		if a.TargetDigests {
			built, err := w.BuiltDigests(ctx, l.Builds)
			if err != nil {
				return exitError, err
			}
			list = view.WithTargetDigests(list, l, built)
		}
	}
	switch a.format {
	case view.JSON:
		return exitOK, view.WriteImagesJSON(e.stdout, list)
	case view.Markdown:
		return exitOK, view.WriteImagesMarkdown(e.stdout, list, e.markdownOptions(w))
	}
	return exitOK, view.WriteImagesTable(e.stdout, list)
}
