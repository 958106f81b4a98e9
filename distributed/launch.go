package distributed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExitResize is the exit status with which every rank asks its launcher to
// start the job again at another world size (efficiency mode releasing
// workers): the new size is in the file AUTOFREEZE_RESIZE_FILE names.
const ExitResize = 75

// ResizeFileVar names the file a rank writes the world size it wants to.
const ResizeFileVar = "AUTOFREEZE_RESIZE_FILE"

// LaunchOptions describe a single-machine job, as torchrun's
// --nproc-per-node with a static rendezvous runs one.
type LaunchOptions struct {
	Procs       int      // processes (ranks)
	MaxRestarts int      // restarts of the whole job after a rank fails
	MasterAddr  string   // "" means 127.0.0.1
	MasterPort  int      // 0 picks a free port for every attempt
	Command     []string // program and arguments, run once per rank
	Environ     []string // the environment the ranks inherit (os.Environ())
	RunID       string
	Stdout      io.Writer // every rank's output, each line prefixed with "[rank N] "
	Stderr      io.Writer
	Logger      *slog.Logger
	// Grace is how long the other ranks have to exit after one fails
	// before they are killed (0 means 10 s).
	Grace time.Duration
}

// Launch runs the job to completion: it starts Procs ranks, and when one
// fails it stops the others and starts them all again, up to MaxRestarts
// times (each attempt with TORCHELASTIC_RESTART_COUNT one higher, so ranks
// resume from their latest checkpoint). A job whose ranks exit with
// ExitResize starts again at the world size they asked for, without using
// a restart.
func Launch(ctx context.Context, o LaunchOptions) error {
	if o.Procs < 1 {
		return fmt.Errorf("launch: --nproc-per-node must be at least 1, got %d", o.Procs)
	}
	if len(o.Command) == 0 {
		return errors.New("launch: no command to run: give it after the options (autofreeze launch --nproc-per-node 2 -- autofreeze train ...)")
	}
	if o.MasterAddr == "" {
		o.MasterAddr = "127.0.0.1"
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.RunID == "" {
		o.RunID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	resize, err := os.CreateTemp("", "autofreeze-resize-*")
	if err != nil {
		return err
	}
	resize.Close()
	defer os.Remove(resize.Name())

	procs, restarts := o.Procs, 0
	for attempt := 0; ; attempt++ {
		port := o.MasterPort
		if port == 0 {
			if port, err = freePort(o.MasterAddr); err != nil {
				return err
			}
		}
		if err := os.WriteFile(resize.Name(), nil, 0o644); err != nil {
			return err
		}
		env := Env{WorldSize: procs, LocalWorldSize: procs, MasterAddr: o.MasterAddr, MasterPort: port,
			RestartCount: attempt, MaxRestarts: o.MaxRestarts, RunID: o.RunID}
		o.Logger.Info("starting ranks", "world_size", procs, "attempt", attempt, "master", fmt.Sprintf("%s:%d", o.MasterAddr, port))
		codes, err := runAttempt(ctx, o, env, resize.Name())
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("launch: interrupted (exit statuses %v): %w", codes, ctx.Err())
		}
		switch outcome(codes) {
		case "ok":
			return nil
		case "resize":
			n, err := readResize(resize.Name())
			if err != nil {
				return err
			}
			o.Logger.Info("ranks asked for a new world size", "from", procs, "to", n)
			procs = n
			continue
		}
		if restarts >= o.MaxRestarts {
			return fmt.Errorf("launch: ranks failed (exit statuses %v) and the %d restart(s) are used up", codes, o.MaxRestarts)
		}
		restarts++
		o.Logger.Warn("a rank failed; restarting every rank", "exit_statuses", fmt.Sprint(codes), "restart", restarts, "of", o.MaxRestarts)
	}
}

// outcome reads an attempt's exit statuses: every rank 0 is success, every
// rank ExitResize a resize, anything else a failure.
func outcome(codes []int) string {
	ok, resize := true, true
	for _, c := range codes {
		ok = ok && c == 0
		resize = resize && c == ExitResize
	}
	switch {
	case ok:
		return "ok"
	case resize:
		return "resize"
	}
	return "failed"
}

func readResize(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("launch: ranks exited asking for a new world size, but %s holds %q", path, data)
	}
	return n, nil
}

// runAttempt starts every rank and waits for all to exit. When one fails,
// the others get SIGTERM, then SIGKILL after the grace period. It returns
// each rank's exit status (-1 for a signal).
func runAttempt(ctx context.Context, o LaunchOptions, env Env, resizeFile string) ([]int, error) {
	n := env.WorldSize
	cmds := make([]*exec.Cmd, n)
	var outMu sync.Mutex
	for rank := 0; rank < n; rank++ {
		e := env
		e.Rank, e.LocalRank = rank, rank
		cmd := exec.Command(o.Command[0], o.Command[1:]...)
		cmd.Env = append(append(append([]string{}, o.Environ...), e.Vars()...), ResizeFileVar+"="+resizeFile)
		cmd.Stdout = prefixWriter(o.Stdout, &outMu, rank)
		cmd.Stderr = prefixWriter(o.Stderr, &outMu, rank)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:rank] {
				c.Process.Kill()
				c.Wait()
			}
			return nil, fmt.Errorf("launch: starting rank %d (%s): %w", rank, o.Command[0], err)
		}
		cmds[rank] = cmd
	}
	type exit struct{ rank, code int }
	exits := make(chan exit, n)
	for rank, cmd := range cmds {
		go func() {
			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode() // -1 when killed by a signal
			} else if err != nil {
				code = -1
			}
			flushPrefix(cmd.Stdout)
			flushPrefix(cmd.Stderr)
			exits <- exit{rank, code}
		}()
	}
	codes := make([]int, n)
	stopping := false
	var killTimer <-chan time.Time
	interrupted := ctx.Done()
	stop := func(why string) {
		if stopping {
			return
		}
		stopping = true
		o.Logger.Info("stopping the other ranks", "why", why)
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		killTimer = time.After(o.Grace)
	}
	for left := n; left > 0; {
		select {
		case e := <-exits:
			left--
			codes[e.rank] = e.code
			if e.code != 0 && e.code != ExitResize {
				stop(fmt.Sprintf("rank %d exited with status %d", e.rank, e.code))
			}
		case <-interrupted:
			interrupted = nil // once: a closed channel would always be ready
			stop("interrupted")
		case <-killTimer:
			for _, c := range cmds {
				c.Process.Kill()
			}
		}
	}
	return codes, nil
}

func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("launch: finding a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// linePrefixer copies whole lines to w, each prefixed with its rank.
type linePrefixer struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix []byte
	buf    []byte
}

func prefixWriter(w io.Writer, mu *sync.Mutex, rank int) io.Writer {
	if w == nil {
		return nil
	}
	return &linePrefixer{w: w, mu: mu, prefix: []byte(fmt.Sprintf("[rank %d] ", rank))}
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *linePrefixer) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(append(append([]byte{}, p.prefix...), line...))
}

func flushPrefix(w io.Writer) {
	if p, ok := w.(*linePrefixer); ok && len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}
