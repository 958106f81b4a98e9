// Package cli is autofreeze's command line: one file per command, each
// turning flags (and a config file) into an options struct and calling the
// packages that do the work. It is the only package that reads flags,
// environment variables and os.Args, and it maps errors to exit codes.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/trainable"
)

// Version is autofreeze's own version, set at build time with
// -ldflags "-X github.com/autofreeze/autofreeze/cli.Version=...".
var Version = "0.1.0-dev"

// Main runs the command line and returns the exit status.
func Main(args []string) int {
	tuneAllocator()
	return runApp(args, os.Stdout, os.Stderr)
}

// tuneAllocator sets glibc's malloc up for libtorch's tensors
// (trainable.TuneAllocator). AUTOFREEZE_MALLOC=glibc keeps glibc's
// defaults; glibc's own MALLOC_ARENA_MAX wins over the tuning.
func tuneAllocator() {
	if os.Getenv("AUTOFREEZE_MALLOC") == "glibc" || os.Getenv("MALLOC_ARENA_MAX") != "" {
		return
	}
	trainable.TuneAllocator()
}

func runApp(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	// Every command gets a context it can be cancelled through; the
	// commands in stopsOnSignal also cancel it on SIGINT and SIGTERM.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := app.RunContext(ctx, args)
	if err != nil {
		fmt.Fprintf(stderr, "autofreeze: error: %v\n", err)
	}
	return exitCode(err)
}

// stopsOnSignal are the commands that stop cleanly on SIGINT or SIGTERM:
// they watch their context, remove their temporary files, leave what they
// were writing resumable, and exit 130 or 143. A second signal ends them at
// once, except launch, which is then already stopping its ranks (SIGTERM,
// then SIGKILL after --grace). Other commands keep the signals' default
// action (the process ends at once, which the shell reports as 130 or 143
// too).
var stopsOnSignal = map[string]struct{ secondExits bool }{
	"train": {true}, "cache build": {true}, "cache advance": {true}, "plan profile": {true}, "bench": {true},
	"launch": {false},
}

// stopOnSignal wraps a command's action: SIGINT and SIGTERM cancel its
// context (with secondExits, a second signal ends the process at once), and
// an action that returns because of one returns an *interruptedError.
func stopOnSignal(action ucli.ActionFunc, secondExits bool) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		signals := make(chan os.Signal, 2)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(signals)
		ctx, cancel := context.WithCancel(c.Context)
		defer cancel()
		var got atomic.Value // syscall.Signal
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case s := <-signals:
				sig := s.(syscall.Signal)
				got.Store(sig)
				again := ""
				if secondExits {
					again = " (send it again to stop at once)"
				}
				fmt.Fprintf(c.App.ErrWriter, "autofreeze: %s: stopping cleanly%s\n", signalName(sig), again)
				cancel()
				if !secondExits {
					return
				}
				select {
				case s := <-signals:
					os.Exit(128 + int(s.(syscall.Signal)))
				case <-done:
				}
			case <-done:
			}
		}()
		c.Context = ctx
		err := action(c)
		if sig, ok := got.Load().(syscall.Signal); ok && err != nil {
			return &interruptedError{sig: sig, err: err}
		}
		return err
	}
}

func newApp(stdout, stderr io.Writer) *ucli.App {
	app := &ucli.App{
		Name:    "autofreeze",
		Usage:   "fine-tune BERT-family encoders faster by freezing and caching converged layers",
		Version: Version,
		Writer:  stdout, ErrWriter: stderr,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only warnings and errors"},
			&ucli.BoolFlag{Name: "verbose", Usage: "print debug messages"},
		},
		Commands: []*ucli.Command{
			versionCommand(),
			encodeCommand(),
			trainCommand(),
			launchCommand(),
			planCommand(),
			evalCommand(),
			predictCommand(),
			exportCommand(),
			cacheCommand(),
			reportCommand(),
			benchCommand(),
			batchesCommand(),
			probeCommand(),
		},
		CustomAppHelpTemplate: ucli.AppHelpTemplate + "\n" + exitStatusHelp(),
		// Errors are printed once, by run.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError: func(c *ucli.Context, err error, _ bool) error {
			return usageError(err)
		},
		HideHelpCommand: true,
	}
	var setup func(path string, cmds []*ucli.Command)
	setup = func(path string, cmds []*ucli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(path + " " + c.Name)
			// Usage errors exit 2 on every command and subcommand.
			c.OnUsageError = app.OnUsageError
			if how, ok := stopsOnSignal[name]; ok && c.Action != nil {
				c.Action = stopOnSignal(c.Action, how.secondExits)
			}
			setup(name, c.Subcommands)
		}
	}
	setup("", app.Commands)
	return app
}

// logger builds the logger for a command: text on stderr, at the level the
// global flags ask for.
func logger(c *ucli.Context) *slog.Logger {
	level := slog.LevelInfo
	if c.Bool("quiet") {
		level = slog.LevelWarn
	}
	if c.Bool("verbose") {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
}
