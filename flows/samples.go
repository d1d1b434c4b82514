package flows

import _ "embed"

//go:embed samples/hotline.yaml
var sampleHotline []byte

// SampleHotline returns the source of the sample hotline flow: greeting,
// opening hours with night service, language choice, main menu (trace-code
// lookup, complaint message, an agent) and the trace-code read-out.
func SampleHotline() []byte {
	return append([]byte(nil), sampleHotline...)
}

//go:embed samples/agents.yaml
var sampleAgents []byte

// SampleAgentLine returns the source of the sample agent line: a greeting,
// then the ACD's trace queue, with a message as the way out.
func SampleAgentLine() []byte {
	return append([]byte(nil), sampleAgents...)
}
