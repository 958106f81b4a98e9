// Package cli is autofreeze's command line: one file per command, each
// turning flags (and a config file) into an options struct and calling the
// packages that do the work. It is the only package that reads flags,
// environment variables and os.Args, and it maps errors to exit codes.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// Version is autofreeze's own version, set at build time with
// -ldflags "-X github.com/autofreeze/autofreeze/cli.Version=...".
var Version = "0.1.0-dev"

func init() {
	mapError(model.ErrUnsupported, ExitUsage)
	mapError(model.ErrCorrupt, ExitUsage)
	mapError(model.ErrMissingTensor, ExitUsage)
}

// Main runs the command line and returns the exit status.
func Main(args []string) int {
	return runApp(args, os.Stdout, os.Stderr)
}

func runApp(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err != nil {
		var rowErr *text.RowError
		if errors.As(err, &rowErr) {
			err = usageError(err)
		}
		fmt.Fprintf(stderr, "autofreeze: error: %v\n", err)
	}
	return exitCode(err)
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
		},
		CustomAppHelpTemplate: ucli.AppHelpTemplate + "\n" + exitStatusHelp(),
		// Errors are printed once, by run.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError: func(c *ucli.Context, err error, _ bool) error {
			return usageError(err)
		},
		HideHelpCommand: true,
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
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
