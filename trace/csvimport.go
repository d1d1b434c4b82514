package trace

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSV files of trace records
//
// The first line is a header naming the columns, in any order; the names are
// those of Columns() (and of the table trace_records):
//
//	code                    trace code, digits, check digit per the code rules     required
//	category                meat | vegetable                                        required
//	product_zh, product_en  product, e.g. 冷鲜猪肉（五花肉） / chilled pork belly    required
//	batch                   batch number, e.g. LH20261103-07                        required
//	origin_kind             farm | breeding_base | planting_base                    required
//	origin_name_zh/_en      farm or base                                            required
//	origin_region_zh/_en    province and city, e.g. 山东省寿光市 / Shouguang, Shandong required
//	processor_kind          slaughterhouse | packing_workshop
//	processor_name_zh/_en   slaughterhouse or packing workshop
//	processor_licence       slaughter certificate or SC food production licence
//	inspection_certificate  certificate number
//	inspection_result       pass | fail
//	inspection_agency_zh/_en
//	inspection_date         YYYY-MM-DD
//	market_name_zh/_en      wholesale market
//	market_region_zh/_en
//	retailer_name_zh/_en    shop or supermarket
//	retailer_region_zh/_en
//	produced_on             YYYY-MM-DD: slaughtered, harvested or made             required
//	packed_on               YYYY-MM-DD
//	shelf_life_days         whole days from produced_on
//	best_before             YYYY-MM-DD
//	quantity                number above 0, up to 3 decimals (2.5)
//	unit                    kg | g | jin | t | head | piece | box | bag
//
// Columns marked required must be in the header and have a value on every
// line; the others may be left out of the header or empty. A text given in
// one language must be given in the other too. Files are UTF-8 (a leading
// byte-order mark, as spreadsheet programs write, is fine), comma-separated
// with RFC 4180 quoting; values are trimmed; empty lines and lines of empty
// fields are skipped. A code may appear once per file.

// ImportOption configures Import and ReadCSV.
type ImportOption func(*importConfig)

type importConfig struct {
	rules CodeRules
}

// WithCodeRules sets the rules codes must follow (default DefaultCodeRules).
func WithCodeRules(r CodeRules) ImportOption { return func(c *importConfig) { c.rules = r } }

// Import loads the CSV file r into trace_records in one transaction and
// returns the number of records. A code already in the table is updated. If
// any line is bad nothing is stored, and the error, a *FieldError, names the
// line and the field:
//
//	line 17, field inspection_date: "2026-13-01" is not a date YYYY-MM-DD
func Import(ctx context.Context, db DB, r io.Reader, opts ...ImportOption) (n int, err error) {
	cr, err := newCSVReader(r, opts)
	if err != nil {
		return 0, err
	}
	return store(ctx, db, cr.next)
}

// ReadCSV reads and validates a CSV file of records without storing them;
// its errors are those of Import.
func ReadCSV(r io.Reader, opts ...ImportOption) ([]Record, error) {
	cr, err := newCSVReader(r, opts)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for {
		rec, err := cr.next()
		if err != nil || rec == nil {
			return recs, err
		}
		recs = append(recs, *rec)
	}
}

// csvReader reads records from a CSV file, one line after the other.
type csvReader struct {
	r     *csv.Reader
	cols  []column // by position in the header
	rules CodeRules
	seen  map[Code]int // code: line
}

func newCSVReader(r io.Reader, opts []ImportOption) (*csvReader, error) {
	cfg := importConfig{rules: DefaultCodeRules}
	for _, o := range opts {
		o(&cfg)
	}
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3) //nolint:errcheck // peeked
	}
	cr := &csvReader{r: csv.NewReader(br), rules: cfg.rules, seen: map[Code]int{}}
	cr.r.ReuseRecord = true
	header, err := cr.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FieldError{Line: 1, Msg: "empty file: the first line must name the columns (code, category, ...)", Err: ErrInvalidRecord}
	}
	if err != nil {
		return nil, csvErr(err, 0)
	}
	byName := map[string]column{}
	for _, c := range columns {
		byName[c.name] = c
	}
	have := map[string]bool{}
	for _, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		c, ok := byName[name]
		switch {
		case !ok:
			return nil, &FieldError{Line: 1, Field: h, Msg: "unknown column (the columns are: " + strings.Join(Columns(), ", ") + ")", Err: ErrInvalidRecord}
		case have[name]:
			return nil, &FieldError{Line: 1, Field: name, Msg: "column named twice", Err: ErrInvalidRecord}
		}
		have[name] = true
		cr.cols = append(cr.cols, c)
	}
	for _, c := range columns {
		if c.required && !have[c.name] {
			return nil, &FieldError{Line: 1, Field: c.name, Msg: "required column missing from the header", Err: ErrInvalidRecord}
		}
	}
	return cr, nil
}

// next returns the next record, or nil, nil at the end of the file.
func (cr *csvReader) next() (*Record, error) {
	for {
		fields, err := cr.r.Read()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, csvErr(err, len(cr.cols))
		}
		line, _ := cr.r.FieldPos(0)
		empty := true
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
			empty = empty && fields[i] == ""
		}
		if empty {
			continue
		}
		var rec Record
		for i, c := range cr.cols {
			if err := c.parse(&rec, fields[i]); err != nil {
				return nil, atLine(err, line)
			}
		}
		if err := rec.Validate(cr.rules); err != nil {
			return nil, atLine(err, line)
		}
		if prev, dup := cr.seen[rec.Code]; dup {
			return nil, &FieldError{Line: line, Field: "code", Msg: fmt.Sprintf("%s is also on line %d", rec.Code, prev), Err: ErrInvalidRecord}
		}
		cr.seen[rec.Code] = line
		return &rec, nil
	}
}

func atLine(err error, line int) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.Line = line
		return fe
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// csvErr turns a CSV syntax error into a FieldError with its line.
func csvErr(err error, ncols int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("trace: read CSV: %w", err)
	}
	line, msg := pe.Line, pe.Err.Error()
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		line, msg = pe.StartLine, fmt.Sprintf("wrong number of fields: the header has %d", ncols)
	}
	return &FieldError{Line: line, Msg: msg, Err: ErrInvalidRecord}
}
