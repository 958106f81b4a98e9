package cachefmt

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The version-1 fixtures are kept forever: every later version of this package must read
// them. They are also golden files for the writer: the writer must still produce them byte for
// byte. If that second check fails only because an upgrade of klauspost/compress changed the
// Huffman coder's output, keep the old files (the reader test must still pass on them), add new
// ones under new names, and say so in the commit.
type fixture struct {
	file   string
	hidden int
	ids    []uint64
	opts   WriterOptions
}

func testFingerprint() Fingerprint {
	return Fingerprint{
		PrefixWeights: strings.Repeat("a1", 32), Layer: 4, Tokenizer: strings.Repeat("b2", 32),
		MaxLength: 128, Dataset: strings.Repeat("c3", 32), Dtype: Float16, Exporter: "autofreeze test",
	}
}

var fixtures = []fixture{
	{"v1-fp16.afc", 16, []uint64{3, 10, 11, 12, 40, 41, 99}, WriterOptions{Dtype: Float16, GroupRows: 3, Fingerprint: testFingerprint().Sum()}},
	{"v1-bf16.afc", 8, seq(0, 5), WriterOptions{Dtype: BFloat16, GroupRows: 2}},
	{"v1-fp32.afc", 8, seq(20, 4), WriterOptions{Dtype: Float32}},
	{"v1-empty.afc", 384, nil, WriterOptions{}},
}

func (f fixture) build(t testing.TB) []byte {
	data, st := writeTestFile(t, f.hidden, f.ids, &f.opts)
	if len(f.ids) > 0 && (st.RawBlocks == 0 || st.HufBlocks == 0) {
		t.Fatalf("%s should hold both block modes, has %d raw and %d Huffman blocks", f.file, st.RawBlocks, st.HufBlocks)
	}
	return data
}

func readGolden(t *testing.T, path string, want []byte) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	return got
}

func TestFixturesV1(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			data := readGolden(t, filepath.Join("testdata", f.file), f.build(t))
			r, err := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{Name: f.file})
			if err != nil {
				t.Fatal(err)
			}
			h := r.Header()
			if h.Version != FormatV1 || h.Dtype != f.opts.Dtype && f.opts.Dtype != 0 || h.Hidden != f.hidden || h.Fingerprint != f.opts.Fingerprint {
				t.Fatalf("header %+v", h)
			}
			if r.Rows() != len(f.ids) {
				t.Fatalf("%d rows, want %d", r.Rows(), len(f.ids))
			}
			for i, id := range f.ids {
				row, err := r.Row(i)
				if err != nil {
					t.Fatal(err)
				}
				if row.ID != id {
					t.Fatalf("row %d: id %d, want %d", i, row.ID, id)
				}
				if err := checkRow(h.Dtype, h.Hidden, row); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(data, f.build(t)) {
				t.Errorf("the writer no longer produces testdata/%s byte for byte (see the comment on fixture)", f.file)
			}
		})
	}
}

// TestFixtureV1Values pins a few values as literals, so a change to the test generator cannot
// hide a change in what the fixtures hold.
func TestFixtureV1Values(t *testing.T) {
	for _, c := range []struct {
		file          string
		row           int
		id            uint64
		label         int32
		tokens        int
		firstElements []uint32 // float32 bits
	}{
		{"v1-fp16.afc", 0, 3, 1, 3, []uint32{0x3da20000, 0xbf274000, 0x40036000, 0xbe250000}},
		{"v1-fp16.afc", 6, 99, 2, 47, []uint32{0xbec2a000, 0xbd1a8000, 0xbfe9a000, 0x3c310000}},
		{"v1-bf16.afc", 0, 0, 0, 8, []uint32{0xbf840000, 0x00000000, 0x3f690000, 0xc00f0000}},
		{"v1-bf16.afc", 4, 4, 1, 21, []uint32{0xbddf0000, 0x3e9c0000, 0x3e240000, 0x3fa80000}},
		{"v1-fp32.afc", 0, 20, -1, 30, []uint32{0x3e9f9200, 0xbe81b400, 0x3e06d000, 0x4008e000}},
		{"v1-fp32.afc", 3, 23, 0, 26, []uint32{0xbe438400, 0x3f399000, 0xc0483dc0, 0xc0636400}},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			t.Fatal(err)
		}
		row, err := r.Row(c.row)
		if err != nil {
			t.Fatal(err)
		}
		if row.ID != c.id || row.Label != c.label || row.Tokens != c.tokens {
			t.Errorf("%s row %d: id %d label %d tokens %d, want %d %d %d", c.file, c.row, row.ID, row.Label, row.Tokens, c.id, c.label, c.tokens)
		}
		for k, want := range c.firstElements {
			if got := math.Float32bits(row.Hidden[k]); got != want {
				t.Errorf("%s row %d element %d: %08x, want %08x", c.file, c.row, k, got, want)
			}
		}
	}
}

func TestFixtureCacheV1(t *testing.T) {
	fp := testFingerprint()
	build := func(dir string) {
		t.Helper()
		for i, ids := range [][]uint64{seq(0, 3), seq(3, 2)} {
			w, err := CreateShard(dir, i, 2, fp, 4, &WriterOptions{GroupRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				w.Append(id, testLabel(id), testRow(id, 4))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Combine(dir, &CombineOptions{Want: &fp}); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "v1-cache")
	if *update {
		os.RemoveAll(golden)
		os.MkdirAll(golden, 0o755)
		build(golden)
	}
	fresh := t.TempDir()
	build(fresh)
	names, _ := filepath.Glob(filepath.Join(fresh, "*"))
	for _, p := range names {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(golden, filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the writer no longer produces %s byte for byte", filepath.Base(p))
		}
	}
	if err := Verify(golden, &fp); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(golden, fp, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Rows() != 5 || len(c.Shards()) != 2 {
		t.Fatalf("%d rows in %d shards", c.Rows(), len(c.Shards()))
	}
	for i := range c.Rows() {
		row, err := c.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		if row.ID != uint64(i) {
			t.Fatalf("row %d has id %d", i, row.ID)
		}
		if err := checkRow(Float16, 4, row); err != nil {
			t.Fatal(err)
		}
	}
}
