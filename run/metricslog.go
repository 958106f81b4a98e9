package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// metricsLog appends one JSON object per line to RUN/metrics.jsonl. Every
// record has "type" (step, eval, freeze, cache, checkpoint, resume, end),
// "step" and "elapsed_s". A nil log (a rank other than 0) writes nothing.
type metricsLog struct{ f *os.File }

// openMetrics opens path for appending. When resuming from a checkpoint at
// step keepUpTo, records a killed run wrote after that step are dropped
// first, so the log reads as one run.
func openMetrics(path string, resume bool, keepUpTo int) (*metricsLog, error) {
	if resume {
		if err := truncateAfter(path, keepUpTo); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	} else if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{f: f}, nil
}

func truncateAfter(path string, step int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var rec struct {
			Step int `json:"step"`
		}
		// A torn last line (the process was killed mid-write) is dropped.
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step > step {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, kept.Bytes())
}

func (m *metricsLog) write(rec any) error {
	if m == nil {
		return nil
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = m.f.Write(append(line, '\n'))
	return err
}

func (m *metricsLog) close() error {
	if m == nil {
		return nil
	}
	return m.f.Close()
}
