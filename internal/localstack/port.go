package localstack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
)

var (
	portsMu sync.Mutex
	// portsHeld keeps the reservations of the ports handed out, for the
	// life of the process.
	portsHeld = map[int]net.Listener{}
)

// Ports below the kernel's ephemeral range are preferred: there no outgoing
// connection or listener on port 0 takes the port between FreePort and the
// server's bind. They start above 10000–20000, the RTP range every Asterisk
// instance uses, so a call's media never takes a port handed out here.
const lowestPort = 20001

// FreePort returns a port on 127.0.0.1 that is free for TCP and UDP at the
// time of the call, below the ephemeral range when there is room.
//
// A port handed out stays reserved until the process exits, through an
// abstract unix socket named after it: FreePort in this or any other process
// (test packages run in parallel) does not return it, nor probe it while its
// server binds it.
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := lowestPort, ephemeralLow()
	for range 200 {
		port, err := candidatePort(lo, hi)
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		res, ok := reservePort(port)
		if !ok {
			continue
		}
		if probePort(port) == nil {
			portsHeld[port] = res
			return port, nil
		}
		_ = res.Close()
	}
	return 0, errors.New("free port: no port free for both TCP and UDP after 200 tries")
}

// reservePort claims port among all processes using FreePort.
func reservePort(port int) (net.Listener, bool) {
	if _, held := portsHeld[port]; held {
		return nil, false
	}
	l, err := net.Listen("unix", "@ccd-localstack-port-"+strconv.Itoa(port))
	return l, err == nil
}

// candidatePort picks a random port in [lo, hi), or lets the kernel pick
// when that range is too small.
func candidatePort(lo, hi int) (int, error) {
	if hi-lo >= 1000 {
		return lo + rand.IntN(hi-lo), nil
	}
	return kernelPort()
}

// kernelPort returns a port the kernel picks as free for TCP.
func kernelPort() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// probePort checks that port is free on 127.0.0.1 for TCP and UDP.
//
// The probe sockets live under syscall.ForkLock: a child forked while one is
// open would hold it until its exec, and the port would stay taken for a
// moment after FreePort returned.
func probePort(port int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	return u.Close()
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 32768
	}
	return lo
}

func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d out of range", port)
	}
	return nil
}
