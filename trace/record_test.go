package trace_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ccd-platform/ccd/trace"
)

func TestRecordValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *trace.Record)
		field  string // "" for valid
		msg    string
	}{
		{"sample", func(r *trace.Record) {}, "", ""},
		{"minimal", func(r *trace.Record) {
			*r = trace.Record{Code: r.Code, Category: r.Category, Product: r.Product, Batch: r.Batch, Origin: r.Origin, ProducedOn: r.ProducedOn}
		}, "", ""},
		{"missing code", func(r *trace.Record) { r.Code = "" }, "code", "missing"},
		{"bad check digit", func(r *trace.Record) { r.Code = "6901234567890" }, "code", "expected 2"},
		{"unknown category", func(r *trace.Record) { r.Category = "fruit" }, "category", `unknown category "fruit"`},
		{"missing English product", func(r *trace.Record) { r.Product.EN = "" }, "product_en", "missing (required)"},
		{"half a market", func(r *trace.Record) { r.Market.Name.EN = "" }, "market_name_en", "required with market_name_zh"},
		{"missing batch", func(r *trace.Record) { r.Batch = "" }, "batch", "missing"},
		{"control character", func(r *trace.Record) { r.Batch = "LH\n2026" }, "batch", "control character"},
		{"invalid UTF-8", func(r *trace.Record) { r.Product.ZH = "\xd6\xed\xc8\xe2" }, "product_zh", "not valid UTF-8"},
		{"too long", func(r *trace.Record) { r.Retailer.Name.ZH = strings.Repeat("超", 201) }, "retailer_name_zh", "at most 200"},
		{"meat from a planting base", func(r *trace.Record) { r.Origin.Kind = trace.PlantingBase }, "origin_kind", "planting base"},
		{"unknown origin kind", func(r *trace.Record) { r.Origin.Kind = "ranch" }, "origin_kind", "unknown kind"},
		{"vegetables slaughtered", func(r *trace.Record) { r.Category, r.Origin.Kind = trace.Vegetable, trace.Farm }, "processor_kind", "slaughterhouse"},
		{"processor without kind", func(r *trace.Record) { r.Processor.Kind = "" }, "processor_kind", "missing"},
		{"unknown result", func(r *trace.Record) { r.Inspection.Result = "ok" }, "inspection_result", `unknown result "ok"`},
		{"certificate without result", func(r *trace.Record) { r.Inspection.Result = "" }, "inspection_result", "missing"},
		{"missing production date", func(r *trace.Record) { r.ProducedOn = trace.Date{} }, "produced_on", "missing"},
		{"packed before produced", func(r *trace.Record) { r.PackedOn = r.ProducedOn.AddDays(-1) }, "packed_on", "before produced_on"},
		{"unit without quantity", func(r *trace.Record) { r.Quantity = 0 }, "quantity", "required with unit"},
		{"quantity without unit", func(r *trace.Record) { r.Unit = "" }, "unit", "required with quantity"},
		{"unknown unit", func(r *trace.Record) { r.Unit = "lb" }, "unit", `unknown unit "lb"`},
		{"four decimals", func(r *trace.Record) { r.Quantity = 2.5001 }, "quantity", "more than 3 decimals"},
		{"three decimals", func(r *trace.Record) { r.Quantity = 2.125 }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := trace.Sample()
			tt.change(&r)
			err := r.Validate(trace.DefaultCodeRules)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *trace.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Fatalf("err %v, want field %s: %q", err, tt.field, tt.msg)
			}
			if want := trace.ErrInvalidRecord; tt.field == "code" && tt.msg != "missing" {
				want = trace.ErrCodeCheckDigit
				if !errors.Is(err, want) {
					t.Fatalf("err %v does not wrap %v", err, want)
				}
			} else if !errors.Is(err, want) {
				t.Fatalf("err %v does not wrap %v", err, want)
			}
		})
	}
}

func TestRecordJSON(t *testing.T) {
	in := trace.Sample()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"code":"6901234567892"`, `"produced_on":"2026-11-03"`, `"origin":{"kind":"farm","name":{"zh":"康源生猪养殖场"`, `"quantity":2.5,"unit":"kg"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "updated_at") {
		t.Errorf("zero updated_at in JSON:\n%s", b)
	}
	var out trace.Record
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}

	min := `{"code":"6901234567892","category":"meat","product":{"zh":"猪肉","en":"pork"},"batch":"1","origin":{"kind":"farm","name":{"zh":"场","en":"farm"}},"produced_on":"2026-11-03"}`
	var r trace.Record
	if err := json.Unmarshal([]byte(min), &r); err != nil || !r.PackedOn.IsZero() || r.Processor != (trace.Processor{}) {
		t.Fatalf("minimal record: %+v, %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"produced_on":"2026-13-01"}`), &r); err == nil || !strings.Contains(err.Error(), "not a date") {
		t.Fatalf("bad date: %v", err)
	}
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2026-13-01", "2026-02-30", "2026-1-3", "26-11-03", "2026/11/03", "2026-11-03 ", "２０２６-11-03"} {
		if _, err := trace.ParseDate(s); err == nil || !strings.Contains(err.Error(), "is not a date YYYY-MM-DD") {
			t.Errorf("ParseDate(%q): %v", s, err)
		}
	}
	d, err := trace.ParseDate("2028-02-29")
	if err != nil || d.String() != "2028-02-29" || d.AddDays(1).String() != "2028-03-01" {
		t.Fatalf("ParseDate: %v %v", d, err)
	}
}
