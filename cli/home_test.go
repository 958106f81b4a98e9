package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnwritableHOME: with a HOME where nothing can be created, autofreeze
// still runs (gotch's init used to log.Fatal when it could not create
// $HOME/.cache/gotch, so every command, even --help, exited 1).
func TestUnwritableHOME(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		home = "/proc" // root writes anywhere a mode allows nothing; not here
	}
	if err := os.Mkdir(filepath.Join(home, ".cache"), 0o755); err == nil {
		t.Skipf("%s is writable here", home)
	}
	for _, args := range [][]string{{"--help"}, {"version"}, {"train", "--help"}} {
		c := exec.Command(os.Args[0], args...)
		c.Env = append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1", "HOME="+home, "GOTCH_CACHE=")
		out, err := c.CombinedOutput()
		if err != nil || strings.Contains(string(out), ".cache") {
			t.Errorf("HOME=%s autofreeze %v: %v\n%s", home, strings.Join(args, " "), err, out)
		}
	}
}
