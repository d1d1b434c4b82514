// Package sipagent is an auto-answering SIP phone for agents, for tests,
// benchmarks and demos: it registers with Asterisk as an agent endpoint
// (digest auth), keeps the registration refreshed, and takes the calls
// Asterisk sends it the way the test asks: answer at once or after ringing,
// never answer, or reject with a status.
//
//	a, err := sipagent.Start(ctx, sipagent.Options{
//		Registrar: stack.SIPAddr(), User: "1001", Password: pw,
//		Behaviour: sipagent.Behaviour{AnswerAfter: time.Second},
//		Play:      sipagent.ToneBursts(1100),
//	})
//	defer a.Close(ctx)
//	c, err := a.WaitCall(ctx)        // the INVITE arrived, the phone rings
//	err = c.WaitAnswered(ctx)
//	outcome, err := c.Wait(ctx)      // remote-hangup, cancelled, rejected...
//	heard := c.Heard()               // what the agent heard, 8 kHz PCM
//
// Once answered the phone plays Options.Play (by default tone bursts, one
// per second) so a caller's recording shows which agent it reached, and
// records what it hears, so a test can prove audio flows both ways. DTMF
// keys (RFC 4733) it receives are in Call.Digits.
//
// A caller that gives up while the phone rings (an offer timeout, the
// caller hanging up, the call going to another agent) shows as a CANCEL:
// the call ends with OutcomeCancelled and an EventCancelled. SetBehaviour
// changes the behaviour for the calls that follow; Call.Answer, Reject and
// Hangup act on one call.
//
// The phone sends from Options.BindHost, 127.0.0.2 by default: Asterisk
// identifies its trunk by source address, so a phone sending from a trunk
// address would be taken for the trunk. It speaks UDP or TCP and G.711
// (PCMU, PCMA). Each agent has its own sipgo user agent and sockets; Close
// unregisters and releases all of them, and every goroutine, before it
// returns.
package sipagent
