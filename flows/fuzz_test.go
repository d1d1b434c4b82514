package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(SampleHotline())
	f.Add([]byte(minimalYAML))
	if src, err := Marshal(validDoc()); err == nil {
		f.Add(src)
	}
	if js, err := json.Marshal(validDoc()); err == nil {
		f.Add(js)
	}
	f.Add([]byte("name: x\nnodes:\n  a: {type: menu, optoins: {}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("nodes:\n  a:\n    <<: {type: play}\n"))
	f.Add([]byte("{\"name\": \"x\", \"nodes\": {\"a\": {\"timeout\": \"5s\"}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Check(data, ValidateOptions{})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v is not a ValidationError with problems", err, err)
			}
			if doc == nil {
				return
			}
		}
		// Parse and Validate separately agree with Check.
		parsed, perr := Parse(data)
		if perr != nil {
			t.Fatalf("Check parsed what Parse refuses: %v", perr)
		}
		if verr := Validate(parsed, ValidateOptions{}); (verr == nil) != (err == nil) {
			t.Fatalf("Validate %v, Check %v", verr, err)
		}
		if err != nil {
			return
		}
		out, err := Marshal(doc)
		if err != nil {
			t.Fatalf("marshal a valid document: %v", err)
		}
		again, err := Check(out, ValidateOptions{})
		if err != nil {
			t.Fatalf("canonical form does not validate: %v\n%s", err, out)
		}
		out2, err := Marshal(again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("canonical form not stable (%v):\n%s\n---\n%s", err, out, out2)
		}
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("JSON: %v", err)
		}
		var fromJSON Doc
		if err := json.Unmarshal(js, &fromJSON); err != nil {
			t.Fatalf("JSON back: %v\n%s", err, js)
		}
		if out3, err := Marshal(&fromJSON); err != nil || !bytes.Equal(out, out3) {
			t.Fatalf("JSON round trip changed the document (%v):\n%s\n---\n%s", err, out, out3)
		}
	})
}
