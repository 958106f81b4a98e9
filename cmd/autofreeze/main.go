// Command autofreeze fine-tunes BERT-family encoders, freezing the layers
// that stop changing and serving them from ONNX Runtime and an activation
// cache. See README.md.
package main

import (
	"os"

	"github.com/autofreeze/autofreeze/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
