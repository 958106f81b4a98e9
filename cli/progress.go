package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/autofreeze/autofreeze/run"
)

// progress shows training progress: a bar redrawn in place on a terminal,
// plain log lines otherwise (logs, CI, batch jobs), nothing with --quiet.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	drawn bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) Progress(s run.Progress) {
	if p.quiet {
		return
	}
	frac := float64(s.Step) / float64(max(s.TotalSteps, 1))
	info := fmt.Sprintf("step %d/%d  epoch %d/%d  loss %.4f  %.1f ex/s  frozen %d  elapsed %s  ETA %s",
		s.Step, s.TotalSteps, s.Epoch, s.Epochs, s.Loss, s.ExamplesPerSec, s.Frozen,
		s.Elapsed.Round(time.Second), s.ETA.Round(time.Second))
	if !p.tty {
		fmt.Fprintf(p.w, "progress: %s\n", info)
		return
	}
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r\033[K[%s] %3.0f%%  %s", bar, 100*frac, info)
	p.drawn = true
}

// done ends the bar's line so later output starts on a fresh one.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
