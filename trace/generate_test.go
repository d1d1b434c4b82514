package trace_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"unicode"

	"github.com/ccd-platform/ccd/trace"
)

func TestGenerate(t *testing.T) {
	recs := trace.Generate(500, 1)
	if len(recs) != 500 {
		t.Fatalf("%d records", len(recs))
	}
	if !reflect.DeepEqual(recs[0], trace.Sample()) || recs[0].Code != trace.SampleCode {
		t.Fatalf("first record is not the sample: %+v", recs[0])
	}
	if !reflect.DeepEqual(recs, trace.Generate(500, 1)) {
		t.Fatal("same seed, different records")
	}
	if reflect.DeepEqual(recs[1:], trace.Generate(500, 2)[1:]) {
		t.Fatal("different seeds, same records")
	}
	if got := trace.Generate(3, 1); !reflect.DeepEqual(got, recs[:3]) {
		t.Fatal("a shorter set is not a prefix of a longer one")
	}
	if trace.Generate(0, 1) != nil {
		t.Fatal("Generate(0) is not empty")
	}

	codes := map[trace.Code]bool{}
	count := map[string]int{}
	for i := range recs {
		r := &recs[i]
		if err := r.Validate(trace.DefaultCodeRules); err != nil {
			t.Fatalf("record %d (%s): %v", i, r.Code, err)
		}
		if codes[r.Code] {
			t.Fatalf("code %s twice", r.Code)
		}
		codes[r.Code] = true
		if !hasHan(r.Product.ZH) || !hasHan(r.Origin.Name.ZH) || hasHan(r.Product.EN) || hasHan(r.Origin.Region.EN) {
			t.Fatalf("record %d texts in the wrong language: %+v", i, r)
		}
		count[string(r.Category)]++
		count[string(r.Inspection.Result)]++
		count[string(r.Processor.Kind)]++
		count[string(r.Origin.Kind)]++
		count[r.Market.Name.EN]++
		count[fmt.Sprint(len(r.Code))]++
	}
	for _, k := range []string{"meat", "vegetable", "pass", "fail", "slaughterhouse", "packing_workshop", "farm",
		"breeding_base", "planting_base", "Beijing Xinfadi Wholesale Market", "13", "18", "20"} {
		if count[k] == 0 {
			t.Errorf("no record with %s in 500", k)
		}
	}
}

func hasHan(s string) bool {
	for _, c := range s {
		if unicode.Is(unicode.Han, c) {
			return true
		}
	}
	return false
}

func TestWriteCSVRoundTrip(t *testing.T) {
	recs := trace.Generate(200, 7)
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, recs); err != nil {
		t.Fatal(err)
	}
	got, err := trace.ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip differs")
	}
}
