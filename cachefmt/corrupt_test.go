package cachefmt

import (
	"encoding/binary"
	"errors"
	"testing"
)

// Every byte of a file is under some checksum, so every single-bit change must be reported as
// corruption, and never read back as different numbers.
func TestEveryBitFlipIsCorruption(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			data := f.build(t)
			step := 1
			if testing.Short() {
				step = 7
			}
			bad := make([]byte, len(data))
			for pos := 0; pos < len(data); pos += step {
				for bit := range 8 {
					copy(bad, data)
					bad[pos] ^= 1 << bit
					_, err := readAllRows(bad)
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("flipping bit %d of byte %d of %d: %v, want ErrCorrupt", bit, pos, len(data), err)
					}
				}
			}
		})
	}
}

func TestEveryTruncationIsCorruption(t *testing.T) {
	for _, f := range fixtures {
		data := f.build(t)
		for n := range len(data) {
			if _, err := readAllRows(data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s cut to %d of %d bytes: %v, want ErrCorrupt", f.file, n, len(data), err)
			}
		}
		for _, extra := range [][]byte{{0}, make([]byte, 52), data[len(data)-52:]} {
			if _, err := readAllRows(append(data[:len(data):len(data)], extra...)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s with %d bytes appended: %v, want ErrCorrupt", f.file, len(extra), err)
			}
		}
	}
}

// Damage that keeps every checksum right (a bug in some writer, or a crafted file) must be
// refused by the length checks, before anything is allocated from the bad numbers.
func TestConsistentChecksumsButBadCounts(t *testing.T) {
	base := fixtures[0].build(t) // v1-fp16: 3 groups
	trailerAt := len(base) - trailerSize
	indexAt := int(binary.LittleEndian.Uint64(base[trailerAt:]))
	entry := func(g, field int) int { return indexAt + g*entrySize + field }
	resealIndex := func(b []byte) {
		end := trailerAt - 4
		binary.LittleEndian.PutUint32(b[end:], crc(b[indexAt:end]))
	}
	resealTrailer := func(b []byte) { binary.LittleEndian.PutUint32(b[trailerAt+40:], crc(b[trailerAt:trailerAt+40])) }
	resealHeader := func(b []byte) { binary.LittleEndian.PutUint32(b[60:], crc(b[:60])) }
	for _, c := range []struct {
		name   string
		damage func(b []byte)
		kind   error
	}{
		{"version 2 (an intact newer file)", func(b []byte) { b[8] = 2; resealHeader(b) }, ErrVersion},
		{"version 0", func(b []byte) { b[8] = 0; resealHeader(b) }, ErrVersion},
		{"unknown dtype", func(b []byte) { b[12] = 7; resealHeader(b) }, ErrCorrupt},
		{"hidden 0", func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0); resealHeader(b) }, ErrCorrupt},
		{"hidden doubled", func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 32); resealHeader(b) }, ErrCorrupt},
		{"group_rows below the rows of a group", func(b []byte) { binary.LittleEndian.PutUint32(b[20:], 2); resealHeader(b) }, ErrCorrupt},
		{"2^60 row groups", func(b []byte) { binary.LittleEndian.PutUint64(b[trailerAt+24:], 1<<60); resealTrailer(b) }, ErrCorrupt},
		{"index length 2^62", func(b []byte) { binary.LittleEndian.PutUint64(b[trailerAt+8:], 1<<62); resealTrailer(b) }, ErrCorrupt},
		{"index offset past the end", func(b []byte) { binary.LittleEndian.PutUint64(b[trailerAt:], 1<<40); resealTrailer(b) }, ErrCorrupt},
		{"row count off by one", func(b []byte) { b[trailerAt+16]++; resealTrailer(b) }, ErrCorrupt},
		{"2^40 tokens in a group", func(b []byte) {
			binary.LittleEndian.PutUint64(b[entry(1, 12):], 1<<40)
			resealIndex(b)
		}, ErrCorrupt},
		{"2^32 rows in a group", func(b []byte) {
			binary.LittleEndian.PutUint32(b[entry(0, 8):], 1<<32-1)
			resealIndex(b)
		}, ErrCorrupt},
		{"chunk length 2^63", func(b []byte) {
			binary.LittleEndian.PutUint64(b[entry(0, 20+8*colHidden):], 1<<63)
			resealIndex(b)
		}, ErrCorrupt},
		{"groups out of order", func(b []byte) {
			e0 := append([]byte(nil), b[entry(0, 0):entry(1, 0)]...)
			copy(b[entry(0, 0):], b[entry(1, 0):entry(2, 0)])
			copy(b[entry(1, 0):], e0)
			resealIndex(b)
		}, ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), base...)
			c.damage(b)
			_, err := readAllRows(b)
			if !errors.Is(err, c.kind) {
				t.Fatalf("%v, want %v", err, c.kind)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != "test.afc" {
				t.Fatalf("%v does not name the file", err)
			}
		})
	}
}

func TestChecksumErrorsAreCorruptAndNameTheChunk(t *testing.T) {
	data := fixtures[0].build(t)
	data[headerSize+10] ^= 1 // inside group 0's ids chunk
	_, err := readAllRows(data)
	if !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v: want ErrChecksum, which is also ErrCorrupt", err)
	}
	want := "cachefmt: checksum mismatch: test.afc: row group 0, ids chunk at offset 64: stored CRC-32C"
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("message %q\nwant prefix %q", got, want)
	}
}
