// Package sipua holds what the platform's SIP user agents (the test caller
// and the agent phone, both on diago) share.
package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// AwaitListener returns the "ip:port" the user agent listens on and, for
// UDP, waits until requests can leave from that socket. diago's
// ServeBackground returns once the socket is bound, but sipgo adds a UDP
// listener to its connection pool a moment later in the serving goroutine; a
// request sent before that makes sipgo bind a second socket to the same port
// and fail with "address already in use". The port is read from the Contact
// diago would register with toward target; no request is sent.
func AwaitListener(dg *diago.Diago, ua *sipgo.UserAgent, target sip.Uri, bindHost, transport string) (string, error) {
	target.UriParams = sip.NewParams()
	target.UriParams.Add("transport", transport)
	rt, err := dg.RegisterTransaction(context.Background(), target, diago.RegisterOptions{})
	if err != nil {
		return "", fmt.Errorf("listen port: %w", err)
	}
	c := rt.Origin.Contact()
	if c == nil || c.Address.Port == 0 {
		return "", errors.New("listen port unknown")
	}
	addr := net.JoinHostPort(bindHost, strconv.Itoa(c.Address.Port))
	if transport != "udp" {
		return addr, nil // TCP requests leave from their own connection
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := ua.TransportLayer().GetConnection("udp", addr); err == nil {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("listener %s not ready", addr)
		}
		time.Sleep(time.Millisecond)
	}
}
