package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The tree is stored sparsely: the leaf hashes in audit_log, and the
// interior nodes of every stride-th level (4, 8, 12, ...) in audit_tree.
// Any other node is computed from at most 2^(stride-1) stored hashes below
// it, so a proof at ten million events reads a few dozen rows in two
// queries, while an append writes one node row per 15 leaves on average.

// stride is the distance between stored levels of the tree.
const stride = 4

var (
	hasher = rfc6962.DefaultHasher
	ranges = &compact.RangeFactory{Hash: hashChildren}
)

// hashChildren is RFC 6962's interior node hash, SHA-256(0x01 || l || r),
// as rfc6962.Hasher.HashChildren computes it but with one allocation
// instead of three: verification computes one for every leaf.
func hashChildren(l, r []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], l)
	copy(buf[1+sha256.Size:], r)
	sum := sha256.Sum256(buf[:])
	return sum[:]
}

// ErrArchived is returned when a proof or a node needs events that
// retention has moved out of the database into an archive segment.
var ErrArchived = errors.New("the events needed have been archived (see anzen audit verify --archive)")

// stored reports whether nodes of level are kept in audit_tree.
func stored(level uint) bool { return level > 0 && level%stride == 0 }

// span is a run of hashes to read at one level: [from, to).
type span struct {
	level    uint
	from, to uint64
}

// nodeHashes returns the hashes of the perfect-subtree nodes ids, reading
// what they are made of through q in two queries.
func nodeHashes(ctx context.Context, q db.Querier, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// What each node is made of: the hashes at its base level.
	spans := make([]span, len(ids))
	for i, id := range ids {
		base := id.Level - id.Level%stride
		n := uint64(1) << (id.Level - base)
		spans[i] = span{base, id.Index * n, (id.Index + 1) * n}
	}
	got, err := readSpans(ctx, q, spans)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, s := range spans {
		hs := make([][]byte, 0, s.to-s.from)
		for j := s.from; j < s.to; j++ {
			h, ok := got[nodeKey{s.level, j}]
			if !ok {
				if s.level == 0 {
					return nil, fmt.Errorf("leaf %d: %w", j, ErrArchived)
				}
				return nil, fmt.Errorf("tree node %d/%d is missing", s.level, j)
			}
			hs = append(hs, h)
		}
		out[i] = fold(hs)
	}
	return out, nil
}

// fold hashes a power-of-two run of sibling hashes up to their root.
func fold(hs [][]byte) []byte {
	for len(hs) > 1 {
		next := hs[:0:0]
		for j := 0; j+1 < len(hs); j += 2 {
			next = append(next, hashChildren(hs[j], hs[j+1]))
		}
		hs = next
	}
	return hs[0]
}

type nodeKey struct {
	level uint
	idx   uint64
}

// readSpans reads the hashes of spans: leaves from audit_log, other levels
// from audit_tree, merged into as few ranges as possible.
func readSpans(ctx context.Context, q db.Querier, spans []span) (map[nodeKey][]byte, error) {
	merged := mergeSpans(spans)
	got := make(map[nodeKey][]byte, 64)
	var leafConds, nodeConds []string
	var leafArgs, nodeArgs []any
	for _, s := range merged {
		if s.level == 0 {
			leafConds = append(leafConds, "(seq >= ? AND seq < ?)")
			leafArgs = append(leafArgs, int64(s.from), int64(s.to))
		} else {
			nodeConds = append(nodeConds, "(level = ? AND idx >= ? AND idx < ?)")
			nodeArgs = append(nodeArgs, int(s.level), int64(s.from), int64(s.to))
		}
	}
	if len(leafConds) > 0 {
		if err := scanHashes(ctx, q, "SELECT 0, seq, leaf FROM audit_log WHERE "+strings.Join(leafConds, " OR "), leafArgs, got); err != nil {
			return nil, fmt.Errorf("read leaves: %w", err)
		}
	}
	if len(nodeConds) > 0 {
		if err := scanHashes(ctx, q, "SELECT level, idx, hash FROM audit_tree WHERE "+strings.Join(nodeConds, " OR "), nodeArgs, got); err != nil {
			return nil, fmt.Errorf("read tree nodes: %w", err)
		}
	}
	return got, nil
}

func scanHashes(ctx context.Context, q db.Querier, query string, args []any, into map[nodeKey][]byte) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var level int
		var idx int64
		var h []byte
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return err
		}
		into[nodeKey{uint(level), uint64(idx)}] = h
	}
	return rows.Err()
}

// mergeSpans sorts spans and joins those of one level that touch or
// overlap.
func mergeSpans(spans []span) []span {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int {
		if a.level != b.level {
			return int(a.level) - int(b.level)
		}
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && out[n-1].level == x.level && x.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// loadRange rebuilds the compact range [0, size) of the stored tree: the
// roots of the perfect subtrees that make up its right edge.
func loadRange(ctx context.Context, q db.Querier, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hs, err := nodeHashes(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	if hs == nil {
		hs = [][]byte{}
	}
	return ranges.NewRange(0, size, hs)
}

// rootOf returns the root hash of a compact range starting at 0; the
// empty tree's root is SHA-256 of nothing.
func rootOf(r *compact.Range) []byte {
	if r.End() == 0 {
		return hasher.EmptyRoot()
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(err) // the range starts at 0 by construction
	}
	return root
}

// cloneRange returns an independent copy of r.
func cloneRange(r *compact.Range) *compact.Range {
	hs := make([][]byte, len(r.Hashes()))
	copy(hs, r.Hashes())
	c, err := ranges.NewRange(r.Begin(), r.End(), hs)
	if err != nil {
		panic(err) // r is a valid range
	}
	return c
}

// inclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size, read through q.
func inclusionProof(ctx context.Context, q db.Querier, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hs, err := nodeHashes(ctx, q, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hs, hasher.HashChildren)
}

// consistencyProof returns the RFC 6962 consistency proof between the
// trees of size1 and size2.
func consistencyProof(ctx context.Context, q db.Querier, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hs, err := nodeHashes(ctx, q, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hs, hasher.HashChildren)
}
