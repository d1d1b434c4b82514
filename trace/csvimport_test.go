package trace_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ccd-platform/ccd/trace"
)

// sampleCSV is a file of n generated records.
func sampleCSV(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.WriteCSV(&buf, trace.Generate(n, seed)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// editLine sets field col of line (1-based) of a CSV file of one line per record.
func editLine(t testing.TB, file []byte, line int, col, value string) []byte {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(rows[0], col)
	if i < 0 {
		t.Fatalf("no column %s", col)
	}
	rows[line-1][i] = value
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const minimalHeader = "code,category,product_zh,product_en,batch,origin_kind,origin_name_zh,origin_name_en,origin_region_zh,origin_region_en,produced_on\n"

func TestReadCSVErrors(t *testing.T) {
	good := sampleCSV(t, 20, 3)
	tests := []struct {
		name    string
		file    []byte
		wantErr string
		is      error
	}{
		{"bad date", editLine(t, good, 17, "inspection_date", "2026-13-01"),
			`line 17, field inspection_date: "2026-13-01" is not a date YYYY-MM-DD`, trace.ErrInvalidRecord},
		{"bad check digit", editLine(t, good, 5, "code", "6901234567890"),
			`line 5, field code: "6901234567890": trace code check digit is wrong: ends in 0, expected 2`, trace.ErrCodeCheckDigit},
		{"short code", editLine(t, good, 6, "code", "690123"),
			`line 6, field code: "690123": trace code has the wrong length: 6 digits, want 13 to 20`, trace.ErrCodeLength},
		{"unknown category", editLine(t, good, 3, "category", "fruit"),
			`line 3, field category: unknown category "fruit" (known: meat, vegetable)`, trace.ErrInvalidRecord},
		{"missing required field", editLine(t, good, 9, "product_en", ""),
			"line 9, field product_en: missing (required)", trace.ErrInvalidRecord},
		{"bad number", editLine(t, good, 4, "quantity", "2,5"),
			`line 4, field quantity: "2,5" is not a number above 0 such as 2.5`, trace.ErrInvalidRecord},
		{"bad shelf life", editLine(t, good, 4, "shelf_life_days", "7天"),
			`line 4, field shelf_life_days: "7天" is not a whole number of days above 0`, trace.ErrInvalidRecord},
		{"unknown unit", editLine(t, good, 2, "unit", "斤"),
			`line 2, field unit: unknown unit "斤"`, trace.ErrInvalidRecord},
		{"GBK text", editLine(t, good, 8, "product_zh", "\xd6\xed\xc8\xe2"),
			"line 8, field product_zh: not valid UTF-8 (save the file as UTF-8)", trace.ErrInvalidRecord},
		{"duplicate code", editLine(t, good, 12, "code", "6901234567892"),
			"line 12, field code: 6901234567892 is also on line 2", trace.ErrInvalidRecord},
		{"unknown column", []byte(strings.Replace(string(good), "unit\n", "units\n", 1)),
			"line 1, field units: unknown column (the columns are: code, category,", trace.ErrInvalidRecord},
		{"required column missing", []byte(strings.Replace(minimalHeader, "batch,", "", 1)),
			"line 1, field batch: required column missing from the header", trace.ErrInvalidRecord},
		{"column twice", []byte("code,code\n"), "line 1, field code: column named twice", trace.ErrInvalidRecord},
		{"empty file", nil, "line 1: empty file", trace.ErrInvalidRecord},
		{"field count", append(bytes.Clone(good), "6901234567892,meat\n"...),
			"line 22: wrong number of fields: the header has 33", trace.ErrInvalidRecord},
		{"bad quote", []byte(minimalHeader + `6901234567892,meat,"猪"肉,pork,1,farm,场,Farm,河南,Henan,2026-11-03` + "\n"),
			`line 2: extraneous or missing " in quoted-field`, trace.ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := trace.ReadCSV(bytes.NewReader(tt.file))
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !errors.Is(err, tt.is) {
				t.Fatalf("err %v\nwant %s (%v)", err, tt.wantErr, tt.is)
			}
			var fe *trace.FieldError
			if !errors.As(err, &fe) || fe.Line == 0 {
				t.Fatalf("not a FieldError with a line: %#v", err)
			}
			_ = recs
		})
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		file string
		n    int
	}{
		{"byte-order mark, spaces, any order, blank lines", "\uFEFF code , produced_on,category,product_zh,product_en,batch,origin_kind,origin_name_zh,origin_name_en,origin_region_zh,origin_region_en\n" +
			" 6901234567892 ,2026-11-03,meat, 猪肉 ,pork,B1,farm,康源生猪养殖场,Kangyuan Pig Farm,河南省漯河市,\"Luohe, Henan\"\n\n,,,,,,,,,,\n", 1},
		{"header only", minimalHeader, 0},
		{"CRLF", strings.ReplaceAll(minimalHeader, "\n", "\r\n") +
			"6901234567892,meat,猪肉,pork,B1,farm,场,Farm,河南,Henan,2026-11-03\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := trace.ReadCSV(strings.NewReader(tt.file))
			if err != nil || len(recs) != tt.n {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			if tt.n > 0 && (recs[0].Code != "6901234567892" || recs[0].Product.ZH != "猪肉" || recs[0].ProducedOn.String() != "2026-11-03") {
				t.Fatalf("record %+v", recs[0])
			}
		})
	}

	// Texts are spoken: a line break inside a quoted field is refused.
	file := minimalHeader + "6901234567892,meat,猪肉,\"pork\nbelly\",B1,farm,场,Farm,河南,Henan,2026-11-03\n"
	if _, err := trace.ReadCSV(strings.NewReader(file)); err == nil || err.Error() != `line 2, field product_en: holds a control character '\n'` {
		t.Fatalf("err %v", err)
	}

	// Other code rules.
	if _, err := trace.ReadCSV(strings.NewReader(minimalHeader+"12345678,meat,猪肉,pork,B1,farm,场,Farm,河南,Henan,2026-11-03\n"),
		trace.WithCodeRules(trace.CodeRules{MinLen: 8, MaxLen: 8})); err != nil {
		t.Fatal(err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add(sampleCSV(f, 3, 1))
	f.Add([]byte(minimalHeader + "6901234567892,meat,猪肉,pork,B1,farm,场,Farm,河南,Henan,2026-11-03\n"))
	f.Add([]byte("\uFEFFcode\n\"6901\"\"\n"))
	f.Fuzz(func(t *testing.T, file []byte) {
		recs, err := trace.ReadCSV(bytes.NewReader(file))
		if err != nil {
			var fe *trace.FieldError
			if !errors.As(err, &fe) || fe.Line < 1 || !errors.Is(err, trace.ErrInvalidRecord) && !errors.Is(err, trace.ErrCodeLength) &&
				!errors.Is(err, trace.ErrCodeChars) && !errors.Is(err, trace.ErrCodeCheckDigit) {
				t.Fatalf("error without a line or a known cause: %v", err)
			}
			return
		}
		for i := range recs {
			if err := recs[i].Validate(trace.DefaultCodeRules); err != nil {
				t.Fatalf("accepted an invalid record: %v", err)
			}
		}
	})
}
