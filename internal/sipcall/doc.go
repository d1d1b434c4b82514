// Package sipcall places real SIP calls for tests, the ccctl demo command
// and load tools: one caller per call, speaking SIP over UDP or TCP and
// G.711 (PCMU or PCMA) RTP through diago.
//
// Call runs a whole call and returns its Result:
//
//	digits, _ := sipcall.ParseDigits("w2s,1,2,3,#", 300*time.Millisecond)
//	res, err := sipcall.Call(ctx, sipcall.Options{
//		Target: "127.0.0.1:5060", DID: "4006001000", From: "13800138000",
//		Digits: digits, RecordPath: "heard.wav",
//	})
//
// Dial returns an answered Session for tests that act during the call:
// send digits when a prompt ends, hang up in the middle of a greeting, or
// wait for the far end to hang up.
//
//	s, err := sipcall.Dial(ctx, o)
//	...
//	s.Hangup()
//	res, err := s.Wait()
//
// Refusals: Call reports a final non-2xx response (401, 403, 404, 486,
// 5xx...) in Result.StatusCode with a nil error; Dial returns it as a
// *RejectedError (errors.Is ErrRejected). A call that gets no final
// response fails with an error wrapping ErrNoAnswer.
//
// Each call has its own sipgo user agent, listening on an ephemeral port of
// Options.BindHost (so the far end's BYE reaches it), and its own RTP
// socket. Calls are independent and may run concurrently; when one ends
// every socket and goroutine it started is released before Wait returns.
//
// While the call is up the caller sends G.711 silence, as a phone does, or
// speech: Options.Say utterances at their offsets from the answer, and audio
// given to Session.Say. DTMF goes as RFC 4733 telephone-events in the same
// stream. The caller records what it hears (Result.Heard, or a WAV file) on a
// timeline that starts at the answer, each packet placed by its RTP
// timestamp.
//
//	res, err := sipcall.Call(ctx, sipcall.Options{
//		Target: "127.0.0.1:5060", DID: "4006001000", HangupAfter: 15 * time.Second,
//		Say: []sipcall.Utterance{{After: 8 * time.Second, Audio: message}},
//	})
package sipcall
