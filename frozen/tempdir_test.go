package frozen_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/internal/dirlock"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
)

// TestSweepTemp: the exports of processes that are gone are removed; those
// of live processes, and anything too young to judge, are kept.
func TestSweepTemp(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	root := frozen.TempRoot()
	old := time.Now().Add(-2 * time.Hour)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	host, _ := os.Hostname()
	record, _ := json.Marshal(dirlock.Holder{PID: dead.Process.Pid, Host: host, Since: old})
	mk := func(name string, owner []byte, age time.Time) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "layers-0-3.onnx"), []byte("onnx"), 0o644); err != nil {
			t.Fatal(err)
		}
		if owner != nil {
			p := filepath.Join(dir, ".owner")
			if err := os.WriteFile(p, owner, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(p, age, age)
		}
		os.Chtimes(dir, age, age)
		return dir
	}
	killed := mk("export-1-killed", record, old)
	unowned := mk("export-2-unowned", nil, old)
	fresh := mk("export-3-fresh", record, time.Now())
	young := mk("export-4-young", nil, time.Now())
	other := mk("not-an-export", record, old)
	live := mk("export-5-live", nil, old)
	l, err := dirlock.Acquire(live, ".owner", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	p := filepath.Join(live, ".owner")
	os.Chtimes(p, old, old)

	removed := frozen.SweepTemp()
	slices.Sort(removed)
	if want := []string{killed, unowned}; !slices.Equal(removed, want) {
		t.Errorf("swept %v, want %v", removed, want)
	}
	for _, d := range []string{fresh, young, other, live} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
}

// TestExportTempUnderTempRoot: temporary exports go in the user's
// directory under TMPDIR, owned (locked) while open and removed on close.
// They used to be /tmp/autofreeze-export-*, which a killed process left
// behind and nothing removed.
func TestExportTempUnderTempRoot(t *testing.T) {
	initORT(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	if err := tinymodel.WriteModel(dir, 1); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, closeRunner, err := frozen.ExportTemp(cfg, w.Tensors, export.ExportOptions{Range: model.Range{Start: 0, End: 1}}, frozen.RunnerOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = r
	exports, _ := filepath.Glob(filepath.Join(frozen.TempRoot(), "export-*"))
	if len(exports) != 1 || !strings.HasPrefix(exports[0], tmp) {
		t.Fatalf("exports %v, want one under %s", exports, frozen.TempRoot())
	}
	if h, err := dirlock.Read(exports[0], ".owner"); err != nil || h.PID != os.Getpid() {
		t.Errorf("the export's owner record: %+v, %v", h, err)
	}
	if gone, _ := dirlock.Abandoned(exports[0], ".owner"); gone {
		t.Error("an open export counts as abandoned")
	}
	closeRunner()
	if left, _ := os.ReadDir(frozen.TempRoot()); len(left) != 0 {
		t.Errorf("close left %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "autofreeze-export-*")); len(left) != 0 {
		t.Errorf("an export directly in TMPDIR: %v", left)
	}
}
