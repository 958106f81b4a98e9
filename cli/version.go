package cli

import (
	"fmt"
	"runtime"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/trainable"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print the versions of autofreeze, gotch, libtorch and ONNX Runtime",
		Flags: []ucli.Flag{ortLibFlag()},
		Action: func(c *ucli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "autofreeze   %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(w, "gotch        %s (patched, scripts/gotch)\n", trainable.GotchVersion)
			fmt.Fprintf(w, "libtorch     %s (%d threads)\n", trainable.LibtorchVersion(), trainable.Threads())
			fmt.Fprintf(w, "cpu          %s\n", precision.DetectCPU().Summary())
			lib := ortLibPath(c)
			v, err := ortVersion(lib)
			if err != nil {
				fmt.Fprintf(w, "onnxruntime  not found: %v\n", err)
				return err
			}
			fmt.Fprintf(w, "onnxruntime  %s (%s)\n", v, lib)
			return nil
		},
	}
}
