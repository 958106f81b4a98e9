package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectModes(t *testing.T) {
	all := AllModes(6)
	got, err := SelectModes(all, 6, []string{"autofreeze-max-4", "static-2", "full"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	if want := []string{"full", "static-2", "autofreeze-max-4"}; !slices.Equal(names, want) {
		t.Fatalf("modes %v, want %v", names, want)
	}
	if args := strings.Join(got[2].Args, " "); args != "--freeze auto --freeze-max 4 --cache disk" {
		t.Errorf("autofreeze-max-4 runs with %q", args)
	}
	for name, want := range map[string]string{
		"autofreeze-start-2":       "--freeze auto --freeze-start 2 --cache auto",
		"autofreeze-start-2-max-3": "--freeze auto --freeze-start 2 --freeze-max 3 --cache auto",
		"autofreeze-start-3-max-3": "--freeze auto --freeze-start 3 --freeze-max 3 --cache auto",
	} {
		got, err := SelectModes(all, 6, []string{"full", name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if args := strings.Join(got[1].Args, " "); got[1].Name != name || args != want {
			t.Errorf("%s runs as %s with %q, want %q", name, got[1].Name, args, want)
		}
	}
	for _, bad := range []string{"autofreeze-max-0", "autofreeze-max-6", "autofreeze-max-04", "autofreeze-max-x", "static-9",
		"autofreeze", "autofreeze-", "autofreeze-start-3-max-2", "autofreeze-max-3-start-2", "autofreeze-start-2-", "autofreeze-start-2-max-3-x"} {
		if _, err := SelectModes(all, 6, []string{"full", bad}); err == nil {
			t.Errorf("mode %q was accepted", bad)
		}
	}
	if got, _ := SelectModes(all, 6, nil); len(got) != len(all) {
		t.Errorf("no names selected %d modes, want all %d", len(got), len(all))
	}
}
