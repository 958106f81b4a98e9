package cachefmt

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name   string
		hidden int
		rows   int
		opts   WriterOptions
	}{
		{"fp32 exact", 24, 40, WriterOptions{Dtype: Float32}},
		{"fp16 default options", 24, 40, WriterOptions{}},
		{"bf16", 24, 40, WriterOptions{Dtype: BFloat16}},
		{"one row per group", 8, 10, WriterOptions{GroupRows: 1}},
		{"groups by bytes", 32, 50, WriterOptions{Dtype: Float32, GroupBytes: 4 << 10}},
		{"stored without Huffman coding", 16, 20, WriterOptions{Store: true}},
		{"hidden 1", 1, 30, WriterOptions{Dtype: BFloat16}},
		{"blocks span planes (wide rows)", 4096, 6, WriterOptions{Dtype: Float32, GroupBytes: 8 << 20}},
		{"no rows", 16, 0, WriterOptions{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, st := writeTestFile(t, c.hidden, seq(100, uint64(c.rows)), &c.opts)
			n, err := readAllRows(data)
			if err != nil {
				t.Fatalf("row %d: %v", n, err)
			}
			if n != c.rows || st.Rows != uint64(c.rows) {
				t.Fatalf("read %d rows, stats %d, want %d", n, st.Rows, c.rows)
			}
			if c.opts.Store && st.HufBlocks != 0 {
				t.Errorf("Store wrote %d Huffman blocks", st.HufBlocks)
			}
		})
	}
}

func TestFP32KeepsEveryBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const hidden = 64
	vals := make([]float32, 300*hidden)
	for i := range vals {
		vals[i] = math.Float32frombits(rng.Uint32()) // includes NaN payloads and subnormals
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, hidden, &WriterOptions{Dtype: Float32})
	if err := w.Append(7, -1, vals); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		t.Fatal(err)
	}
	row, err := r.Row(0)
	if err != nil {
		t.Fatal(err)
	}
	if row.ID != 7 || row.Label != -1 || row.Tokens != 300 {
		t.Fatalf("row %d %d %d", row.ID, row.Label, row.Tokens)
	}
	for i := range vals {
		if math.Float32bits(row.Hidden[i]) != math.Float32bits(vals[i]) {
			t.Fatalf("element %d: %08x, want %08x", i, math.Float32bits(row.Hidden[i]), math.Float32bits(vals[i]))
		}
	}
}

func TestRoundedValuesReadBack(t *testing.T) {
	// What fp16 and bf16 files return: the correctly rounded value, with NaN still NaN.
	in := []float32{1 + 1.0/2048, 65520, 2.9802322e-08, 5.9604645e-08, float32(math.NaN()), -1e-30, 3.14159}
	for _, c := range []struct {
		d    Dtype
		want []uint32 // float32 bits read back
	}{
		{Float16, []uint32{0x3f800000, 0x7f800000, 0x00000000, 0x33800000, 0x7fc00000, 0x80000000, 0x40490000}},
		{BFloat16, []uint32{0x3f800000, 0x47800000, 0x33000000, 0x33800000, 0x7fc00000, 0x8da20000, 0x40490000}},
	} {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, 1, &WriterOptions{Dtype: c.d})
		w.Append(1, 0, in)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, _ := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
		row, err := r.Row(0)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range row.Hidden {
			if got := math.Float32bits(f); got != c.want[i] {
				t.Errorf("%v: %v read back as %08x (%v), want %08x", c.d, in[i], got, f, c.want[i])
			}
		}
	}
}

func TestWriterRejectsBadInput(t *testing.T) {
	if _, err := NewWriter(&bytes.Buffer{}, 0, nil); err == nil {
		t.Error("hidden 0 accepted")
	}
	if _, err := NewWriter(&bytes.Buffer{}, 4, &WriterOptions{Dtype: 9}); err == nil {
		t.Error("dtype 9 accepted")
	}
	w, _ := NewWriter(&bytes.Buffer{}, 4, nil)
	if err := w.Append(1, 0, make([]float32, 6)); err == nil || !strings.Contains(err.Error(), "multiple") {
		t.Errorf("6 floats for hidden 4: %v", err)
	}
	w.Close()
	if err := w.Append(1, 0, nil); err == nil {
		t.Error("Append after Close accepted")
	}
}

func TestReaderModes(t *testing.T) {
	data, _ := writeTestFile(t, 16, seq(0, 200), &WriterOptions{GroupRows: 7})
	for _, c := range []struct {
		name string
		opts ReaderOptions
	}{
		{"default cache", ReaderOptions{}},
		{"no cache", ReaderOptions{CacheBytes: -1}},
		{"tiny cache", ReaderOptions{CacheBytes: 2000}},
		{"in memory", ReaderOptions{InMemory: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(data), int64(len(data)), &c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Rows() != 200 || r.Groups() != 29 {
				t.Fatalf("%d rows in %d groups", r.Rows(), r.Groups())
			}
			// Many goroutines reading random rows at once.
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 9))
					var row Row
					for range 300 {
						i := rng.IntN(r.Rows())
						if err := r.ReadRow(i, &row); err != nil {
							errs <- err
							return
						}
						if row.ID != uint64(i) {
							errs <- &Error{File: "id", Offset: int64(row.ID)}
							return
						}
						if err := checkRow(Float16, 16, row); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if _, err := r.Row(200); err == nil {
				t.Error("row 200 of 200 read")
			}
			if _, err := r.Row(-1); err == nil {
				t.Error("row -1 read")
			}
		})
	}
}
