package view

import (
	"fmt"
	"io"

	"github.com/imagesync/imagesync/internal/diff"
)

// WriteShard says which part of a split plan the plan above is, and what
// the other parts hold; nothing for a whole plan.
func WriteShard(w io.Writer, p *diff.Plan) error {
	if p.Shard == 0 {
		return nil
	}
	mine, all := len(p.Changes), len(p.Changes)+len(p.Elsewhere)
	_, err := fmt.Fprintf(w, "\nShard %d/%d: %d of the plan's %d images and builds (by target repository); the other shards take the other %d.\n",
		p.Shard, p.Shards, mine, all, all-mine)
	return err
}
