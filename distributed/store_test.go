package distributed

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStoreBindAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"localhost": "127.0.0.1", "127.0.0.1": "127.0.0.1", "127.0.0.2": "127.0.0.2", "::1": "::1",
		"master.example.com": "", "203.0.113.9": "", // a name, and an address not of this machine
	} {
		if got := StoreBindAddr(addr); got != want {
			t.Errorf("StoreBindAddr(%q) = %q, want %q", addr, got, want)
		}
	}
	// A literal address of this machine is bound as such.
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			if got := StoreBindAddr(n.IP.String()); got != n.IP.String() {
				t.Errorf("StoreBindAddr(%s), an address of this machine, = %q", n.IP, got)
			}
			break
		}
	}
}

// listeners are the local addresses of the TCP sockets listening on port,
// from /proc/net/tcp and tcp6 (hex, as the kernel writes them).
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			host, p, ok := strings.Cut(fields[1], ":")
			if n, err := strconv.ParseUint(p, 16, 16); ok && err == nil && int(n) == port {
				out = append(out, host)
			}
		}
		file.Close()
	}
	if out == nil {
		t.Skip("no /proc/net/tcp to read the listening sockets from")
	}
	return out
}

// TestStoreListensOnLoopback: on a single-node job (MASTER_ADDR 127.0.0.1,
// as autofreeze launch sets it) rank 0's rendezvous store listens on
// loopback only; it used to listen on every interface.
func TestStoreListensOnLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	env := Env{Rank: 0, WorldSize: 1, LocalRank: 0, LocalWorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: port}
	w, err := Join(env, Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	hosts := listeners(t, port)
	if len(hosts) != 1 || hosts[0] != "0100007F" {
		t.Fatalf("the store listens on %v (hex, /proc/net/tcp), want only 127.0.0.1 (0100007F)", hosts)
	}
	// And it works: a client on loopback reaches it.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
