package cli

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/internal/testenv"
)

// imdbSample writes the first n IMDb training reviews to a JSONL file.
func imdbSample(t *testing.T, n int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.IMDbDir(t), "train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfterN(string(data), "\n", n+1)
	path := filepath.Join(t.TempDir(), "sample.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readAllRows(t *testing.T, dir string) []cachefmt.Row {
	t.Helper()
	m, err := cachefmt.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cachefmt.OpenCache(dir, m.Fingerprint, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows := make([]cachefmt.Row, c.Rows())
	for i := range rows {
		if rows[i], err = c.Row(i); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func maxRowDiff(t *testing.T, a, b []cachefmt.Row) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d rows against %d", len(a), len(b))
	}
	worst := 0.0
	for i := range a {
		if a[i].Tokens != b[i].Tokens || a[i].ID != b[i].ID {
			t.Fatalf("row %d: %d tokens (id %d) against %d (id %d)", i, a[i].Tokens, a[i].ID, b[i].Tokens, b[i].ID)
		}
		for j := range a[i].Hidden {
			worst = math.Max(worst, math.Abs(float64(a[i].Hidden[j]-b[i].Hidden[j])))
		}
	}
	return worst
}

// TestCacheBuildAdvanceVerify: on real MiniLM weights and IMDb reviews,
// advancing a cache from layer 3 to 5 gives what building it at layer 5
// gives; shards built by separate jobs combine into the same cache; verify
// tells valid, corrupt and stale apart by exit status.
func TestCacheBuildAdvanceVerify(t *testing.T) {
	modelDir := testenv.ModelDir(t)
	testenv.ORTLib(t)
	data := imdbSample(t, 24)
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	common := []string{"--model", modelDir, "--data", data, "--dtype", "fp32", "--max-length", "64", "--batch-size", "8"}
	run := func(args ...string) {
		t.Helper()
		if code, _, stderr := cmd(t, append([]string{"--quiet"}, args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	run(append([]string{"cache", "build", "--layers", "0:3", "--out", at("k3")}, common...)...)
	run("cache", "advance", "--cache", at("k3"), "--model", modelDir, "--to", "5", "--out", at("k5-advanced"))
	run(append([]string{"cache", "build", "--layers", "0:5", "--out", at("k5")}, common...)...)
	if d := maxRowDiff(t, readAllRows(t, at("k5")), readAllRows(t, at("k5-advanced"))); d > 1e-5 {
		t.Fatalf("advanced cache differs from the built one by %.3g (> 1e-5)", d)
	} else {
		t.Logf("cache advance 3->5 against cache build 0:5: max abs difference %.3g", d)
	}

	run(append([]string{"cache", "build", "--layers", "0:5", "--out", at("k5-sharded"), "--shard", "1/2"}, common...)...)
	if _, err := os.Stat(filepath.Join(at("k5-sharded"), cachefmt.ManifestName)); err == nil {
		t.Fatal("a manifest was written before every shard was built")
	}
	run(append([]string{"cache", "build", "--layers", "0:5", "--out", at("k5-sharded"), "--shard", "0/2"}, common...)...)
	if d := maxRowDiff(t, readAllRows(t, at("k5")), readAllRows(t, at("k5-sharded"))); d != 0 {
		t.Fatalf("sharded build differs from the single build by %g", d)
	}

	if code, _, stderr := cmd(t, "cache", "verify", at("k5")); code != ExitOK {
		t.Fatalf("verify of a good cache: exit %d: %s", code, stderr)
	}
	other := imdbSample(t, 23)
	if code, _, _ := cmd(t, "cache", "verify", "--model", modelDir, "--data", other, at("k5")); code != ExitStale {
		t.Fatalf("verify against other data: exit %d, want %d (stale)", code, ExitStale)
	}
	shard := filepath.Join(at("k5"), cachefmt.ShardName(0, 1))
	raw, _ := os.ReadFile(shard)
	raw[len(raw)/2] ^= 0x10
	os.WriteFile(shard, raw, 0o644)
	if code, _, _ := cmd(t, "cache", "verify", at("k5")); code != ExitCorrupt {
		t.Fatalf("verify of a flipped bit: exit %d, want %d (corrupt)", code, ExitCorrupt)
	}
}
