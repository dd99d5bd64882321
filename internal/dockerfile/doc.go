// Package dockerfile reads Dockerfiles the way BuildKit builds them: which
// images a build needs (Scan) and the same file with each of those images
// replaced by a pinned copy (Rewrite).
//
// It uses BuildKit's own parser, instruction parser and shell lexer rather
// than a reader of its own, so that it finds exactly the images BuildKit
// would pull, after ARG expansion, stage resolution, named contexts and
// ONBUILD triggers, fails where BuildKit fails, and rewrites only the words
// BuildKit reads as image references. Where BuildKit keeps a step to itself
// (the order it resolves stages in, the platform arguments it predefines),
// this package follows it step by step and says so at that step.
package dockerfile
