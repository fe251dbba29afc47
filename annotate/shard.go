package annotate

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is part I of N (1-based) of a deterministic split of images among machines: an image's
// part depends on its relative path alone, so every image lands in exactly one part, the same on
// every machine, and adding images moves none of the others.
type Shard struct {
	I, N int
}

// ErrBadShard is wrapped by ParseShard's errors.
var ErrBadShard = errors.New("bad shard")

// ParseShard reads "I/N" with 1 <= I <= N.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%w %q: want I/N, e.g. 1/4 for the first of 4 parts", ErrBadShard, s)
	case n < 1:
		return Shard{}, fmt.Errorf("%w %q: the number of parts must be at least 1", ErrBadShard, s)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf("%w %q: the part must be between 1 and %d", ErrBadShard, s, n)
	}
	return Shard{I: i, N: n}, nil
}

// String spells the shard as ParseShard reads it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Has reports whether the image at rel (its path relative to the folder being split, with
// forward or back slashes) belongs to the shard.
func (s Shard) Has(rel string) bool { return ShardOf(rel, s.N) == s.I }

// ShardOf returns the part (1..n) the image at rel belongs to among n.
func ShardOf(rel string, n int) int {
	if n <= 1 {
		return 1
	}
	h := fnv.New64a()
	h.Write([]byte("captune-shard:"))
	h.Write([]byte(strings.ReplaceAll(rel, "\\", "/")))
	return int(h.Sum64()%uint64(n)) + 1
}
