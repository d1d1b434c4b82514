// Package asterisk runs Asterisk instances for ccd through deploy/asterisk.sh.
//
// The script keeps one cached Debian root with Asterisk 22 (Install) and runs
// any number of instances from it, each in a directory of its own that holds
// the rendered configuration, generated credentials, logs, spool and database
// (Configure). An instance runs chrooted in the root, as the root's asterisk
// user, in a private mount namespace, detached from the caller; Start waits
// until ARI answers and Stop ends it. Everything needs root.
//
// Every agent has two endpoints with the agent's password: the desk phone
// endpoint named by the agent id (SIP over UDP or TCP; ACD device
// "PJSIP/1001") and the WebRTC endpoint "webrtc-<id>" for the browser (SIP
// over WebSocket at Instance.SIPWebSocketURL, or SIPSecureWebSocketURL with
// Options.HTTPSPort; DTLS-SRTP, ICE, AVPF, rtcp-mux, bundle, Opus; ACD
// device "PJSIP/webrtc-1001"). Which one rings is the agent's configured
// device, so an agent moves between desk phone and browser without touching
// Asterisk. The certificate for DTLS-SRTP and HTTPS and the CA that issued
// it (Instance.TLSCA) live in the instance directory's tls/.
//
// The end-to-end test harness configures instances in temporary directories
// on free ports (FreePort) so that suites never collide with a developer's
// running stack; the admin CLI opens the persistent instance with Open.
//
// Errors from the script are *ScriptError values carrying what the script
// wrote to stderr, so a failure says what failed and why; they match
// ErrScriptFailed with errors.Is.
package asterisk
