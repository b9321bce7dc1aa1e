package chaos

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// Ports for local masters come from below the kernel's ephemeral range
// (32768-60999 on Linux): a port that the kernel hands out for outgoing
// connections could be taken between our check and the master's bind.
const (
	portLow  = 20000
	portHigh = 32000
)

// FreeAddrs returns n distinct 127.0.0.1 addresses whose ports were free a
// moment ago. They are held until all are picked, so none repeats.
func FreeAddrs(n int) ([]string, error) {
	var out []string
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for try := 0; len(out) < n; try++ {
		if try == 100*n {
			return nil, fmt.Errorf("no free loopback port in [%d,%d) after %d tries", portLow, portHigh, try)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", portLow+rand.IntN(portHigh-portLow))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: try another
		}
		held = append(held, l)
		out = append(out, addr)
	}
	return out, nil
}
