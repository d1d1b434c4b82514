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
