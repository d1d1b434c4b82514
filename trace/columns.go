package trace

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// column is one field of a record: a column of trace_records and of the CSV
// format, under the same name.
type column struct {
	name string
	// required: the CSV header must name it (Validate requires a value).
	required bool
	// field points into r: *string, *Date, *int or *float64.
	field func(r *Record) any
}

// columns in the order of the CSV files WriteCSV writes.
var columns = []column{
	{"code", true, func(r *Record) any { return (*string)(&r.Code) }},
	{"category", true, func(r *Record) any { return (*string)(&r.Category) }},
	{"product_zh", true, func(r *Record) any { return &r.Product.ZH }},
	{"product_en", true, func(r *Record) any { return &r.Product.EN }},
	{"batch", true, func(r *Record) any { return &r.Batch }},
	{"origin_kind", true, func(r *Record) any { return (*string)(&r.Origin.Kind) }},
	{"origin_name_zh", true, func(r *Record) any { return &r.Origin.Name.ZH }},
	{"origin_name_en", true, func(r *Record) any { return &r.Origin.Name.EN }},
	{"origin_region_zh", true, func(r *Record) any { return &r.Origin.Region.ZH }},
	{"origin_region_en", true, func(r *Record) any { return &r.Origin.Region.EN }},
	{"processor_kind", false, func(r *Record) any { return (*string)(&r.Processor.Kind) }},
	{"processor_name_zh", false, func(r *Record) any { return &r.Processor.Name.ZH }},
	{"processor_name_en", false, func(r *Record) any { return &r.Processor.Name.EN }},
	{"processor_licence", false, func(r *Record) any { return &r.Processor.Licence }},
	{"inspection_certificate", false, func(r *Record) any { return &r.Inspection.Certificate }},
	{"inspection_result", false, func(r *Record) any { return (*string)(&r.Inspection.Result) }},
	{"inspection_agency_zh", false, func(r *Record) any { return &r.Inspection.Agency.ZH }},
	{"inspection_agency_en", false, func(r *Record) any { return &r.Inspection.Agency.EN }},
	{"inspection_date", false, func(r *Record) any { return &r.Inspection.Date }},
	{"market_name_zh", false, func(r *Record) any { return &r.Market.Name.ZH }},
	{"market_name_en", false, func(r *Record) any { return &r.Market.Name.EN }},
	{"market_region_zh", false, func(r *Record) any { return &r.Market.Region.ZH }},
	{"market_region_en", false, func(r *Record) any { return &r.Market.Region.EN }},
	{"retailer_name_zh", false, func(r *Record) any { return &r.Retailer.Name.ZH }},
	{"retailer_name_en", false, func(r *Record) any { return &r.Retailer.Name.EN }},
	{"retailer_region_zh", false, func(r *Record) any { return &r.Retailer.Region.ZH }},
	{"retailer_region_en", false, func(r *Record) any { return &r.Retailer.Region.EN }},
	{"produced_on", true, func(r *Record) any { return &r.ProducedOn }},
	{"packed_on", false, func(r *Record) any { return &r.PackedOn }},
	{"shelf_life_days", false, func(r *Record) any { return &r.ShelfLifeDays }},
	{"best_before", false, func(r *Record) any { return &r.BestBefore }},
	{"quantity", false, func(r *Record) any { return &r.Quantity }},
	{"unit", false, func(r *Record) any { return (*string)(&r.Unit) }},
}

// Columns returns the names of the CSV columns (and of the trace_records
// columns), in the order WriteCSV writes them.
func Columns() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return names
}

// columnList is the columns for SQL: "code, category, ...".
func columnList(prefix string) string {
	var b strings.Builder
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix + c.name)
	}
	return b.String()
}

// parse sets the field of c in r from a CSV value; "" leaves it zero.
func (c column) parse(r *Record, v string) error {
	if v == "" {
		return nil
	}
	switch p := c.field(r).(type) {
	case *string:
		*p = v
	case *Date:
		d, err := ParseDate(v)
		if err != nil {
			return fieldErr(c.name, "%v", err)
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fieldErr(c.name, "%q is not a whole number of days above 0", v)
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || strings.ContainsAny(v, "eEnNxX") {
			return fieldErr(c.name, "%q is not a number above 0 such as 2.5", v)
		}
		*p = f
	}
	return nil
}

// format is the CSV value of c in r.
func (c column) format(r *Record) string {
	switch p := c.field(r).(type) {
	case *string:
		return *p
	case *Date:
		return p.String()
	case *int:
		if *p == 0 {
			return ""
		}
		return strconv.Itoa(*p)
	case *float64:
		if *p == 0 {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	panic(fmt.Sprintf("trace: column %s has no format", c.name))
}

// value is the SQL value of c in r: zero dates and numbers are NULL.
func (c column) value(r *Record) any {
	switch p := c.field(r).(type) {
	case *string:
		return *p
	case *Date:
		if p.IsZero() {
			return nil
		}
		return pgtype.Date{Time: p.Time(), Valid: true}
	case *int:
		if *p == 0 {
			return nil
		}
		return int32(*p)
	case *float64:
		if *p == 0 {
			return nil
		}
		return *p
	}
	panic(fmt.Sprintf("trace: column %s has no SQL value", c.name))
}

// scanTargets returns a row's scan destinations for the columns in order and
// a function that moves what was scanned into r.
func scanTargets(r *Record) ([]any, func()) {
	dest := make([]any, len(columns))
	var after []func()
	for i, c := range columns {
		switch p := c.field(r).(type) {
		case *string:
			dest[i] = p
		case *Date:
			var d pgtype.Date
			dest[i] = &d
			after = append(after, func() {
				if d.Valid {
					*p = DateOf(d.Time)
				}
			})
		case *int:
			var n pgtype.Int4
			dest[i] = &n
			after = append(after, func() { *p = int(n.Int32) })
		case *float64:
			var f pgtype.Float8
			dest[i] = &f
			after = append(after, func() { *p = f.Float64 })
		}
	}
	return dest, func() {
		for _, f := range after {
			f()
		}
	}
}
