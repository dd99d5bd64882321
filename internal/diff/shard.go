package diff

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard names one part of a plan split across several runners (CI jobs,
// the pods of a Kubernetes Indexed Job): part K of N, counted from 1. The
// zero Shard is the whole plan.
type Shard struct{ K, N int }

// IsZero reports whether s is the whole plan.
func (s Shard) IsZero() bool { return s.N == 0 }

// String is the K/N form the command line takes.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// maxShards bounds N: more parts than that are a typo, not a fleet.
const maxShards = 1024

// ParseShard reads "K/N" with 1 <= K <= N.
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not K/N, e.g. 2/4 for the second of 4 parts", s)
	}
	ki, errK := strconv.Atoi(k)
	ni, errN := strconv.Atoi(n)
	switch {
	case errK != nil || errN != nil:
		return Shard{}, fmt.Errorf("%q is not K/N, e.g. 2/4 for the second of 4 parts", s)
	case ni < 1 || ni > maxShards:
		return Shard{}, fmt.Errorf("%q: N must be between 1 and %d", s, maxShards)
	case ki < 1 || ki > ni:
		return Shard{}, fmt.Errorf("%q: K counts from 1 to N", s)
	}
	return Shard{K: ki, N: ni}, nil
}

// ShardOf is the part, from 1 to n, that the images and builds of a target
// repository ("reg.example.com/team/redis") go to. It hashes the
// repository name alone, so that every image of one repository lands in
// one part (the distribution registry can corrupt a repository's links
// when two pushes into it overlap, and parts run at the same time), and so
// that runners which plan on their own from the same lock agree without
// talking to each other, whatever else is pending.
func ShardOf(repository string, n int) int {
	sum := sha256.Sum256([]byte(repository))
	return int(binary.BigEndian.Uint64(sum[:8])%uint64(n)) + 1
}

// Partition assigns every change to one of n parts by ShardOf of its
// target repository and records n in the plan. A plan that is already
// partitioned into n parts keeps its assignment: a saved plan carries it,
// so that every runner applies the parts the plan was made with, even
// with another imagesync. Another n is an error naming both.
func (p *Plan) Partition(n int) error {
	if n < 1 || n > maxShards {
		return fmt.Errorf("cannot split a plan into %d parts", n)
	}
	if p.Shards != 0 {
		if p.Shards != n {
			return fmt.Errorf("the plan is split into %d parts, not %d: run every part as --shard K/%d", p.Shards, n, p.Shards)
		}
		return nil
	}
	p.Shards = n
	for i := range p.Changes {
		p.Changes[i].Shard = ShardOf(p.Changes[i].Target.Repository(), n)
	}
	return nil
}

// Part returns the part s.K of the plan, partitioned into s.N parts first
// if it is not yet: Changes and Summary are that part's, Elsewhere holds
// the changes of the other parts (images a build of this part may be based
// on), and Shard says which part it is.
func (p *Plan) Part(s Shard) (*Plan, error) {
	if err := p.Partition(s.N); err != nil {
		return nil, err
	}
	part := *p
	part.Shard, part.Changes, part.Elsewhere = s.K, nil, nil
	for _, c := range p.Changes {
		if c.Shard == s.K {
			part.Changes = append(part.Changes, c)
		} else {
			part.Elsewhere = append(part.Elsewhere, c)
		}
	}
	part.Summary = summarize(part.Changes)
	return &part, nil
}
