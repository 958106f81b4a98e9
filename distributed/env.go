// Package distributed runs a fine-tuning run on several processes at once,
// data-parallel, over PyTorch's c10d (package c10d): each rank trains on its
// share of every global batch, and only the trainable suffix's gradients
// are summed across ranks.
//
// Processes find each other by torchrun's environment contract, so that
// `torchrun --no-python ... autofreeze train ...` launches a run (and
// `autofreeze launch` does the same without Python).
package distributed

import (
	"fmt"
	"strconv"
	"strings"
)

// Env is what a launcher tells each process (torchrun's contract).
type Env struct {
	Rank, WorldSize           int // RANK, WORLD_SIZE
	LocalRank, LocalWorldSize int // LOCAL_RANK, LOCAL_WORLD_SIZE
	MasterAddr                string
	MasterPort                int
	// RestartCount is how many times the launcher has restarted the job
	// (TORCHELASTIC_RESTART_COUNT); each attempt rendezvouses afresh.
	RestartCount int
	MaxRestarts  int    // TORCHELASTIC_MAX_RESTARTS
	RunID        string // TORCHELASTIC_RUN_ID
	// AgentStore: the launcher hosts the TCPStore at MasterAddr:MasterPort
	// and every rank is a client (TORCHELASTIC_USE_AGENT_STORE=True).
	AgentStore bool
	// SocketInterface is GLOO_SOCKET_IFNAME: the network interface Gloo
	// binds (empty: the address MASTER_ADDR is reached from).
	SocketInterface string
}

// Launched reports whether env comes from a launcher (WORLD_SIZE is set).
func Launched(lookup func(string) (string, bool)) bool {
	_, ok := lookup("WORLD_SIZE")
	return ok
}

// EnvFrom reads the contract through lookup (os.LookupEnv). Missing or
// malformed variables are an error naming them.
func EnvFrom(lookup func(string) (string, bool)) (Env, error) {
	var e Env
	var errs []string
	num := func(name string, dst *int, required bool, def int) {
		v, ok := lookup(name)
		if !ok || v == "" {
			if required {
				errs = append(errs, name+" is not set")
			}
			*dst = def
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a non-negative integer", name, v))
			return
		}
		*dst = n
	}
	num("WORLD_SIZE", &e.WorldSize, true, 1)
	num("RANK", &e.Rank, true, 0)
	num("LOCAL_RANK", &e.LocalRank, false, e.Rank)
	num("LOCAL_WORLD_SIZE", &e.LocalWorldSize, false, e.WorldSize)
	num("MASTER_PORT", &e.MasterPort, true, 0)
	num("TORCHELASTIC_RESTART_COUNT", &e.RestartCount, false, 0)
	num("TORCHELASTIC_MAX_RESTARTS", &e.MaxRestarts, false, 0)
	e.MasterAddr, _ = lookup("MASTER_ADDR")
	if e.MasterAddr == "" {
		errs = append(errs, "MASTER_ADDR is not set")
	}
	e.RunID, _ = lookup("TORCHELASTIC_RUN_ID")
	agent, _ := lookup("TORCHELASTIC_USE_AGENT_STORE")
	e.AgentStore = strings.EqualFold(agent, "true")
	e.SocketInterface, _ = lookup("GLOO_SOCKET_IFNAME")
	if len(errs) == 0 {
		switch {
		case e.WorldSize < 1:
			errs = append(errs, "WORLD_SIZE must be at least 1")
		case e.Rank >= e.WorldSize:
			errs = append(errs, fmt.Sprintf("RANK=%d is not below WORLD_SIZE=%d", e.Rank, e.WorldSize))
		case e.MasterPort < 1 || e.MasterPort > 65535:
			errs = append(errs, fmt.Sprintf("MASTER_PORT=%d is not a TCP port", e.MasterPort))
		}
	}
	if len(errs) > 0 {
		return e, fmt.Errorf("launcher environment: %s (start the run with torchrun or autofreeze launch, which set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)", strings.Join(errs, "; "))
	}
	return e, nil
}

// Vars is the environment a launcher gives the process of env's rank: the
// inverse of EnvFrom.
func (e Env) Vars() []string {
	v := []string{
		"RANK=" + strconv.Itoa(e.Rank), "WORLD_SIZE=" + strconv.Itoa(e.WorldSize),
		"LOCAL_RANK=" + strconv.Itoa(e.LocalRank), "LOCAL_WORLD_SIZE=" + strconv.Itoa(e.LocalWorldSize),
		"GROUP_RANK=0", "ROLE_RANK=" + strconv.Itoa(e.Rank), "ROLE_WORLD_SIZE=" + strconv.Itoa(e.WorldSize),
		"MASTER_ADDR=" + e.MasterAddr, "MASTER_PORT=" + strconv.Itoa(e.MasterPort),
		"TORCHELASTIC_RESTART_COUNT=" + strconv.Itoa(e.RestartCount),
		"TORCHELASTIC_MAX_RESTARTS=" + strconv.Itoa(e.MaxRestarts),
		"TORCHELASTIC_RUN_ID=" + e.RunID,
		"TORCHELASTIC_USE_AGENT_STORE=False",
	}
	if e.AgentStore {
		v[len(v)-1] = "TORCHELASTIC_USE_AGENT_STORE=True" // Python's spelling
	}
	if e.SocketInterface != "" {
		v = append(v, "GLOO_SOCKET_IFNAME="+e.SocketInterface)
	}
	return v
}

// Share is the part [lo, hi) of n items that rank takes among size ranks:
// contiguous and as even as possible (sizes differ by at most one).
func Share(n, rank, size int) (lo, hi int) {
	return n * rank / size, n * (rank + 1) / size
}
