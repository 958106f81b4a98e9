package cachefmt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// group is a decoded row group: the small columns as values, the hidden states still split
// into byte planes (in the file's dtype, half the memory of float32 for fp16 and bf16). Rows are
// merged and widened to float32 only when read.
type group struct {
	ids    []uint64
	labels []int32
	tokens []uint32
	start  []int    // first element of each row in the planes, then the element count
	planes [][]byte // Dtype.Size() planes
	bytes  int64    // memory held, for the cache budget
}

// groupRowBytes is a decoded group's memory per row outside the planes.
const groupRowBytes = 8 + 4 + 4 + 8

var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// readGroup reads row group g in one read, checks every chunk's CRC and decodes it. The index
// was validated at open, so every size used here is bounded by the file.
func (r *Reader) readGroup(g int) (*group, error) {
	e := &r.entries[g]
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := slices.Grow((*bp)[:0], int(e.size()))[:e.size()]
	*bp = buf
	if err := r.readAt(buf, int64(e.offset), fmt.Sprintf("row group %d", g)); err != nil {
		return nil, err
	}
	var chunks [numColumns][]byte
	var refs [numColumns]chunkRef
	pos := uint64(0)
	for c, l := range e.lens {
		refs[c] = chunkRef{r.name, int64(e.offset + pos), fmt.Sprintf("row group %d, %s chunk", g, columnNames[c])}
		want := codecPlain
		if c == colHidden {
			want = codecPlanes
		}
		payload, err := openChunk(refs[c], buf[pos:pos+l], want)
		if err != nil {
			return nil, err
		}
		chunks[c] = payload
		pos += l
	}
	grp, tokens := r.smallColumns(int(e.rows), chunks)
	if tokens != e.tokens {
		return nil, refs[colTokens].corrupt(0, "token counts sum to %d, index says %d", tokens, e.tokens)
	}
	n := int(tokens) * r.h.Hidden // checkIndex: n·E ≤ 8·len(payload)
	elem := r.h.Dtype.Size()
	all := make([]byte, n*elem)
	if err := decodePlanes(refs[colHidden], chunks[colHidden], all, elem); err != nil {
		return nil, err
	}
	grp.planes = make([][]byte, elem)
	for p := range grp.planes {
		grp.planes[p] = all[p*n : (p+1)*n]
	}
	grp.bytes = int64(len(all)) + int64(len(grp.ids))*groupRowBytes
	return grp, nil
}

// smallColumns decodes the plain ids, labels and token counts, and the rows' element starts.
// checkIndex made each payload exactly rows values long.
func (r *Reader) smallColumns(rows int, chunks [numColumns][]byte) (*group, uint64) {
	grp := &group{
		ids:    make([]uint64, rows),
		labels: make([]int32, rows),
		tokens: make([]uint32, rows),
		start:  make([]int, rows+1),
	}
	var tokens uint64
	for j := range rows {
		grp.ids[j] = binary.LittleEndian.Uint64(chunks[colIDs][8*j:])
		grp.labels[j] = int32(binary.LittleEndian.Uint32(chunks[colLabels][4*j:]))
		grp.tokens[j] = binary.LittleEndian.Uint32(chunks[colTokens][4*j:])
		grp.start[j] = int(tokens) * r.h.Hidden
		tokens += uint64(grp.tokens[j])
	}
	grp.start[rows] = int(tokens) * r.h.Hidden
	return grp, tokens
}
