package asterisk

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP at
// the time of the call, for an instance's SIP or HTTP port. It never returns
// the same port twice in one process, so parallel tests do not race for one.
func FreePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, uerr := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = l.Close()
		if uerr != nil {
			continue
		}
		_ = u.Close()
		portsMu.Lock()
		given := portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if !given {
			return port, nil
		}
	}
	return 0, errors.New("free port: no port free for both TCP and UDP after 50 tries")
}
