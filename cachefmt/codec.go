package cachefmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/huff0"
)

// planeEncoder writes codec-1 chunks: byte planes cut into blocks, each Huffman-coded with
// huff0 when that is smaller, else stored raw (FORMAT.md, "Codec 1, planes").
type planeEncoder struct {
	s          huff0.Scratch
	store      bool // never try Huffman coding
	raw, huffs int  // blocks written of each mode, for stats and tests
}

// appendChunk appends the chunk holding the first n bytes of each plane.
func (pe *planeEncoder) appendChunk(dst []byte, planes [][]byte, n int) []byte {
	start := len(dst)
	dst = append(dst, codecPlanes)
	for _, plane := range planes {
		for off := 0; off < n; off += planeBlock {
			dst = pe.appendBlock(dst, plane[off:min(off+planeBlock, n)])
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc(dst[start:]))
}

func (pe *planeEncoder) appendBlock(dst, blk []byte) []byte {
	if !pe.store {
		// Each block carries its own table, so any block decodes alone.
		pe.s.Reuse = huff0.ReusePolicyNone
		out, _, err := huff0.Compress4X(blk, &pe.s)
		// ErrIncompressible and ErrUseRLE are normal answers; either way the block goes raw.
		if err == nil && len(out) >= 10 && len(out) < len(blk) {
			pe.huffs++
			dst = append(dst, blockHuff)
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(out)))
			return append(dst, out...)
		}
	}
	pe.raw++
	dst = append(dst, blockRaw)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(blk)))
	return append(dst, blk...)
}

// appendPlain appends a codec-0 chunk; vals is the column already in little-endian bytes.
func appendPlain(dst, vals []byte) []byte {
	start := len(dst)
	dst = append(dst, codecPlain)
	dst = append(dst, vals...)
	return binary.LittleEndian.AppendUint32(dst, crc(dst[start:]))
}

// chunkRef locates a chunk for error messages.
type chunkRef struct {
	file  string
	off   int64 // of the chunk in the file
	where string
}

func (c chunkRef) corrupt(at int, format string, args ...any) error {
	return corruptf(c.file, c.off+int64(at), c.where, format, args...)
}

// openChunk checks a chunk's CRC and codec and returns its payload.
func openChunk(ref chunkRef, b []byte, wantCodec byte) ([]byte, error) {
	if len(b) < chunkExtra {
		return nil, ref.corrupt(0, "chunk of %d bytes is shorter than %d", len(b), chunkExtra)
	}
	body := b[:len(b)-4]
	if got, want := crc(body), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, checksumError(ref.file, ref.off, ref.where, got, want)
	}
	if body[0] != wantCodec {
		return nil, ref.corrupt(0, "codec %d, want %d", body[0], wantCodec)
	}
	return body[1:], nil
}

var scratchPool = sync.Pool{New: func() any { return new(huff0.Scratch) }}

// decodePlanes decodes a codec-1 payload into dst, which holds len(dst)/e bytes per plane.
// The caller has already checked len(dst) ≤ 8·len(payload), so dst is bounded by the file.
func decodePlanes(ref chunkRef, payload []byte, dst []byte, e int) error {
	n := len(dst) / e
	pos := 0
	for p := range e {
		plane := dst[p*n : (p+1)*n]
		for off := 0; off < n; off += planeBlock {
			blk := plane[off:min(off+planeBlock, n)]
			if len(payload)-pos < blockHeader {
				return ref.corrupt(1+pos, "plane %d block at byte %d: payload ends", p, off)
			}
			mode := payload[pos]
			size := int(binary.LittleEndian.Uint32(payload[pos+1:]))
			data := payload[pos+blockHeader:]
			if size > len(data) {
				return ref.corrupt(1+pos, "plane %d block at byte %d: size %d exceeds the %d bytes left", p, off, size, len(data))
			}
			data = data[:size]
			switch mode {
			case blockRaw:
				if size != len(blk) {
					return ref.corrupt(1+pos, "plane %d raw block at byte %d: size %d, want %d", p, off, size, len(blk))
				}
				copy(blk, data)
			case blockHuff:
				if size < 10 || size >= len(blk) {
					return ref.corrupt(1+pos, "plane %d Huffman block at byte %d: size %d not in [10, %d)", p, off, size, len(blk))
				}
				if err := huffDecode(blk, data); err != nil {
					return ref.corrupt(1+pos, "plane %d Huffman block at byte %d: %v", p, off, err)
				}
			default:
				return ref.corrupt(1+pos, "plane %d block at byte %d: unknown mode %d", p, off, mode)
			}
			pos += blockHeader + size
		}
	}
	if pos != len(payload) {
		return ref.corrupt(1+pos, "%d bytes after the last block", len(payload)-pos)
	}
	return nil
}

// huffDecode decodes one Huffman block into dst, which must come out exactly full.
func huffDecode(dst, data []byte) (err error) {
	// huff0 is fuzzed upstream; this recover is a second line so that no input can crash a
	// training run from a background prefetch goroutine.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("huff0 panicked: %v", r)
		}
	}()
	s := scratchPool.Get().(*huff0.Scratch)
	defer scratchPool.Put(s)
	s, rest, err := huff0.ReadTable(data, s)
	if err != nil {
		return err
	}
	out, err := s.Decoder().Decompress4X(dst[:0:len(dst)], rest)
	if err != nil {
		return err
	}
	if len(out) != len(dst) {
		return errors.New("decoded length differs from the block length")
	}
	if &out[0] != &dst[0] {
		copy(dst, out)
	}
	return nil
}
