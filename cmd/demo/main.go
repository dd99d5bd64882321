// Command demo runs the offline demonstration of imagesync (see README):
// go run ./cmd/demo
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/imagesync/imagesync/internal/demo"
)

func main() {
	keep := flag.Bool("keep", false, "keep the registries running after the demo, until Ctrl-C")
	serve := flag.Bool("serve", false, "only start and seed the registries, run no command, until Ctrl-C")
	binary := flag.String("imagesync", "", "use this imagesync binary instead of building one")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if err := demo.Script(ctx, demo.Options{RepoRoot: root, Out: os.Stdout, Keep: *keep, Binary: *binary, ServeOnly: *serve}); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}
