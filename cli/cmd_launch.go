package cli

import (
	"errors"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/distributed"
)

func launchCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "launch",
		Usage:     "run a command as N data-parallel ranks on this machine, restarting them all when one fails",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: `Starts --nproc-per-node copies of COMMAND with torchrun's environment (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RESTART_COUNT, ...), as
"torchrun --no-python --nproc-per-node N COMMAND" does, for machines without Python. When
a rank fails, the others are stopped and every rank starts again (up to --max-restarts);
"autofreeze train" then resumes from the run's latest checkpoint. Every line of output is
prefixed with its rank. On a machine with GPUs (the CUDA build), each rank of "train
--device cuda" (or auto) takes the GPU of its LOCAL_RANK, and --dist-backend auto sums
over NCCL; start one rank per GPU.

Example:
   autofreeze launch --nproc-per-node 2 --max-restarts 3 -- \
       autofreeze train --config train.yaml --out runs/dp2`,
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "nproc-per-node", Value: 2, Usage: "number of ranks"},
			&ucli.IntFlag{Name: "max-restarts", Value: 3, Usage: "restarts of the whole job after a rank fails"},
			&ucli.StringFlag{Name: "master-addr", Value: "127.0.0.1", Usage: "address rank 0 hosts the rendezvous store on"},
			&ucli.IntFlag{Name: "master-port", Usage: "its port (0: a free port for every attempt)"},
			&ucli.StringFlag{Name: "run-id", Usage: "job id the ranks see as TORCHELASTIC_RUN_ID (default: a new one)"},
			&ucli.DurationFlag{Name: "grace", Value: 0, Usage: "how long the other ranks have to exit after one fails (0: 10s)"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() == 0 {
				return usageError(errors.New("launch: give the command to run after --, e.g. autofreeze launch --nproc-per-node 2 -- autofreeze train --config train.yaml"))
			}
			// SIGINT and SIGTERM cancel c.Context (stopsOnSignal), which
			// stops the ranks gracefully (SIGTERM, then SIGKILL after
			// --grace) instead of killing the launcher alone.
			err := distributed.Launch(c.Context, distributed.LaunchOptions{
				Procs: c.Int("nproc-per-node"), MaxRestarts: c.Int("max-restarts"),
				MasterAddr: c.String("master-addr"), MasterPort: c.Int("master-port"),
				Command: c.Args().Slice(), Environ: os.Environ(),
				Stdout: c.App.Writer, Stderr: c.App.ErrWriter, Logger: logger(c), Grace: c.Duration("grace"), RunID: c.String("run-id"),
			})
			return err
		},
	}
}
