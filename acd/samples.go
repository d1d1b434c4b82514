package acd

import (
	"bytes"
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed samples/queues.yaml
var sampleQueues []byte

//go:embed samples/agents.yaml
var sampleAgents []byte

// SampleQueues returns the sample queues of the hotline (acd/samples/queues.yaml),
// overflow targets before the queues that use them.
func SampleQueues() ([]QueueConfig, error) {
	var qs []QueueConfig
	if err := decodeStrict(sampleQueues, &qs); err != nil {
		return nil, fmt.Errorf("sample queues: %w", err)
	}
	return qs, nil
}

// SampleAgents returns the sample agents 1001-1003 (acd/samples/agents.yaml).
func SampleAgents() ([]AgentConfig, error) {
	var as []AgentConfig
	if err := decodeStrict(sampleAgents, &as); err != nil {
		return nil, fmt.Errorf("sample agents: %w", err)
	}
	return as, nil
}

func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}
