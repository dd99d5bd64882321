package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/imagesync/imagesync/internal/config"
	"github.com/imagesync/imagesync/internal/scaffold"
	"github.com/imagesync/imagesync/internal/view"
)

func (a *initArgs) run(ctx context.Context, e *env) (int, error) {
	if err := e.setup(&a.globals); err != nil {
		return exitError, err
	}
	target := a.Target
	if target == "" {
		var err error
		if target, err = askTarget(e); err != nil {
			return exitError, err
		}
	}
	sb, err := helmSandbox()
	if err != nil {
		return exitError, err
	}
	res, err := scaffold.Init(ctx, a.Config, target, scaffold.WithHelmSandbox(sb))
	if err != nil {
		return exitError, err
	}
	return exitOK, view.WriteInit(e.stdout, res, nextCommand(&a.globals, "lock"))
}

// askTarget asks for the target registry on a terminal; without one, a
// missing --target is a usage error.
func askTarget(e *env) (string, error) {
	if !e.stdinTTY {
		return "", &usageError{command: "init", msg: "--target REGISTRY is required (standard input is not a terminal to ask for it)"}
	}
	fmt.Fprint(e.stdout, "Registry to mirror the images to, host[:port][/namespace...]: ")
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	target := strings.TrimSpace(line)
	if target == "" {
		return "", &usageError{command: "init", msg: "no registry given"}
	}
	return target, nil
}

// nextCommand is the imagesync command line to run next, with the global
// flags that make it read the same files.
func nextCommand(g *globals, name string) string {
	words := []string{"imagesync"}
	if g.Dir != "" {
		words = append(words, "-C", shellQuote(g.Dir))
	}
	if g.Config != config.DefaultFilename {
		words = append(words, "--config", shellQuote(g.Config))
	}
	if g.Lockfile != "images.lock" {
		words = append(words, "--lockfile", shellQuote(g.Lockfile))
	}
	return strings.Join(append(words, name), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
