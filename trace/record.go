package trace

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is what is known about one trace code: the product and each step of
// its way from the farm to the shop. Texts are in Chinese and English.
// Optional texts are empty and optional dates zero when not recorded.
//
// Its JSON form is the contract of the external traceability platform (see
// HTTPClient); an example:
//
//	{
//	  "code": "6901234567892",
//	  "category": "meat",
//	  "product": {"zh": "冷鲜猪肉（五花肉）", "en": "chilled pork belly"},
//	  "batch": "LH20261103-07",
//	  "origin": {"kind": "farm",
//	             "name": {"zh": "漯河市康源生猪养殖场", "en": "Kangyuan Pig Farm"},
//	             "region": {"zh": "河南省漯河市", "en": "Luohe, Henan"}},
//	  "processor": {"kind": "slaughterhouse",
//	                "name": {"zh": "漯河市康源生猪定点屠宰场", "en": "Luohe Kangyuan Designated Pig Slaughterhouse"},
//	                "licence": "A41110201"},
//	  "inspection": {"certificate": "4111030071", "result": "pass",
//	                 "agency": {"zh": "漯河市动物卫生监督所", "en": "Luohe Animal Health Supervision Institute"},
//	                 "date": "2026-11-03"},
//	  "market": {"name": {"zh": "北京新发地农产品批发市场", "en": "Beijing Xinfadi Wholesale Market"},
//	             "region": {"zh": "北京市丰台区", "en": "Fengtai District, Beijing"}},
//	  "retailer": {"name": {"zh": "惠民超市（丰台店）", "en": "Huimin Supermarket, Fengtai branch"},
//	               "region": {"zh": "北京市丰台区", "en": "Fengtai District, Beijing"}},
//	  "produced_on": "2026-11-03", "packed_on": "2026-11-03",
//	  "shelf_life_days": 7, "best_before": "2026-11-10",
//	  "quantity": 2.5, "unit": "kg"
//	}
//
// Absent optional members mean "not recorded"; dates are YYYY-MM-DD.
type Record struct {
	Code       Code       `json:"code"`
	Category   Category   `json:"category"`
	Product    Text       `json:"product"`
	Batch      string     `json:"batch"`
	Origin     Origin     `json:"origin"`
	Processor  Processor  `json:"processor,omitzero"`
	Inspection Inspection `json:"inspection,omitzero"`
	Market     Place      `json:"market,omitzero"`
	Retailer   Place      `json:"retailer,omitzero"`
	// ProducedOn is the day the animal was slaughtered, the crop harvested or
	// the product made.
	ProducedOn    Date `json:"produced_on"`
	PackedOn      Date `json:"packed_on,omitzero"`
	ShelfLifeDays int  `json:"shelf_life_days,omitzero"`
	BestBefore    Date `json:"best_before,omitzero"`
	// Quantity the code stands for (one package, carcass or lot), in Unit.
	Quantity float64 `json:"quantity,omitzero"`
	Unit     Unit    `json:"unit,omitzero"`
	// UpdatedAt is when the catalog last changed the record (PGCatalog only).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Text is a text in Chinese and English.
type Text struct {
	ZH string `json:"zh,omitzero"`
	EN string `json:"en,omitzero"`
}

// In returns the text in lang ("zh", "zh-CN"... for Chinese, anything else
// English), or in the other language if that one is empty.
func (t Text) In(lang string) string {
	a, b := t.EN, t.ZH
	if isZH(lang) {
		a, b = b, a
	}
	if a != "" {
		return a
	}
	return b
}

// IsZero reports whether both languages are empty.
func (t Text) IsZero() bool { return t.ZH == "" && t.EN == "" }

func isZH(lang string) bool {
	l := strings.ToLower(lang)
	return l == "zh" || l == "cmn" || strings.HasPrefix(l, "zh-") || strings.HasPrefix(l, "zh_")
}

// Place is a named place with the region it is in.
type Place struct {
	Name   Text `json:"name,omitzero"`
	Region Text `json:"region,omitzero"` // province and city (district), e.g. 山东省寿光市
}

// Origin is where the animal was raised or the crop grown.
type Origin struct {
	Kind OriginKind `json:"kind"`
	Place
}

// Processor is where the animal was slaughtered or the product cut and packed.
type Processor struct {
	Kind    ProcessorKind `json:"kind,omitzero"`
	Name    Text          `json:"name,omitzero"`
	Licence string        `json:"licence,omitzero"` // slaughter certificate or food production (SC) licence number
}

// Inspection is the quarantine or quality inspection of the batch.
type Inspection struct {
	Certificate string           `json:"certificate,omitzero"`
	Result      InspectionResult `json:"result,omitzero"`
	Agency      Text             `json:"agency,omitzero"`
	Date        Date             `json:"date,omitzero"`
}

// Category is the kind of food.
type Category string

// Categories.
const (
	Meat      Category = "meat"
	Vegetable Category = "vegetable"
)

// OriginKind is the kind of place food comes from.
type OriginKind string

// Origin kinds: a farm (meat or vegetables), a breeding base (livestock and
// poultry, 养殖基地), a planting base (vegetables, 种植基地).
const (
	Farm         OriginKind = "farm"
	BreedingBase OriginKind = "breeding_base"
	PlantingBase OriginKind = "planting_base"
)

// ProcessorKind is the kind of processing site.
type ProcessorKind string

// Processor kinds: a slaughterhouse (meat) or a packing workshop (cutting,
// washing and packing meat or vegetables).
const (
	Slaughterhouse  ProcessorKind = "slaughterhouse"
	PackingWorkshop ProcessorKind = "packing_workshop"
)

// InspectionResult is the outcome of an inspection.
type InspectionResult string

// Inspection results.
const (
	Pass InspectionResult = "pass"
	Fail InspectionResult = "fail"
)

// Unit is the unit of a quantity.
type Unit string

// Units.
const (
	Kilogram Unit = "kg"
	Gram     Unit = "g"
	Jin      Unit = "jin" // 斤, 500 g
	Tonne    Unit = "t"
	Head     Unit = "head" // livestock
	Piece    Unit = "piece"
	Box      Unit = "box"
	Bag      Unit = "bag"
)

// unitWords are a unit's words: Chinese, English singular and plural.
var unitWords = map[Unit][3]string{
	Kilogram: {"公斤", "kilogram", "kilograms"},
	Gram:     {"克", "gram", "grams"},
	Jin:      {"斤", "jin", "jin"},
	Tonne:    {"吨", "tonne", "tonnes"},
	Head:     {"头", "head", "head"},
	Piece:    {"件", "piece", "pieces"},
	Box:      {"箱", "box", "boxes"},
	Bag:      {"袋", "bag", "bags"},
}

var (
	categories     = []Category{Meat, Vegetable}
	originKinds    = []OriginKind{Farm, BreedingBase, PlantingBase}
	processorKinds = []ProcessorKind{Slaughterhouse, PackingWorkshop}
	results        = []InspectionResult{Pass, Fail}
	units          = []Unit{Kilogram, Gram, Jin, Tonne, Head, Piece, Box, Bag}
)

func oneOf[T ~string](v T, set []T) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func list[T ~string](set []T) string {
	s := make([]string, len(set))
	for i, v := range set {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Date is a calendar day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// dateLayout is how dates are written in CSV, JSON and SQL.
const dateLayout = "2006-01-02"

// ParseDate reads YYYY-MM-DD; "" is the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || len(s) != len(dateLayout) {
		return Date{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date (not recorded).
func (d Date) IsZero() bool { return d == Date{} }

// Time is midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns d plus n days.
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.Time().Before(e.Time()) }

// String is YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(dateLayout)
}

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD; an empty text is the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// maxText is the longest text accepted in a field, in characters.
const maxText = 200

// Validate checks a record before it is stored: the code against rules,
// required fields present, known categories, kinds and units, both languages
// of each text given, dates in order. The error is a *FieldError naming the
// CSV column.
func (r *Record) Validate(rules CodeRules) error {
	if r.Code == "" {
		return fieldErr("code", "missing (required)")
	}
	if _, err := rules.Validate(string(r.Code)); err != nil {
		return &FieldError{Field: "code", Msg: fmt.Sprintf("%q: %v", r.Code, err), Err: err}
	}
	if r.Category == "" {
		return fieldErr("category", "missing (required)")
	}
	if !oneOf(r.Category, categories) {
		return fieldErr("category", "unknown category %q (known: %s)", r.Category, list(categories))
	}
	texts := []struct {
		name     string
		t        Text
		required bool
	}{
		{"product", r.Product, true},
		{"origin_name", r.Origin.Name, true},
		{"origin_region", r.Origin.Region, true},
		{"processor_name", r.Processor.Name, false},
		{"inspection_agency", r.Inspection.Agency, false},
		{"market_name", r.Market.Name, false},
		{"market_region", r.Market.Region, false},
		{"retailer_name", r.Retailer.Name, false},
		{"retailer_region", r.Retailer.Region, false},
	}
	for _, f := range texts {
		if err := checkText(f.name, f.t, f.required); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"batch", r.Batch}, {"processor_licence", r.Processor.Licence}, {"inspection_certificate", r.Inspection.Certificate},
	} {
		if err := checkString(f.name, f.v); err != nil {
			return err
		}
	}
	if r.Batch == "" {
		return fieldErr("batch", "missing (required)")
	}

	switch {
	case r.Origin.Kind == "":
		return fieldErr("origin_kind", "missing (required)")
	case !oneOf(r.Origin.Kind, originKinds):
		return fieldErr("origin_kind", "unknown kind %q (known: %s)", r.Origin.Kind, list(originKinds))
	case r.Category == Meat && r.Origin.Kind == PlantingBase:
		return fieldErr("origin_kind", "meat does not come from a planting base")
	case r.Category == Vegetable && r.Origin.Kind == BreedingBase:
		return fieldErr("origin_kind", "vegetables do not come from a breeding base")
	}

	p := r.Processor
	switch {
	case p.Kind != "" && !oneOf(p.Kind, processorKinds):
		return fieldErr("processor_kind", "unknown kind %q (known: %s)", p.Kind, list(processorKinds))
	case p.Kind == Slaughterhouse && r.Category == Vegetable:
		return fieldErr("processor_kind", "vegetables do not go through a slaughterhouse")
	case p.Kind == "" && (!p.Name.IsZero() || p.Licence != ""):
		return fieldErr("processor_kind", "missing (required with a processor)")
	case p.Kind != "" && p.Name.IsZero():
		return fieldErr("processor_name_zh", "missing (required with processor_kind)")
	}

	in := r.Inspection
	switch {
	case in.Result != "" && !oneOf(in.Result, results):
		return fieldErr("inspection_result", "unknown result %q (known: %s)", in.Result, list(results))
	case in.Result == "" && (in.Certificate != "" || !in.Agency.IsZero() || !in.Date.IsZero()):
		return fieldErr("inspection_result", "missing (required with an inspection)")
	}

	if r.ProducedOn.IsZero() {
		return fieldErr("produced_on", "missing (required)")
	}
	for _, f := range []struct {
		name string
		d    Date
	}{{"packed_on", r.PackedOn}, {"best_before", r.BestBefore}} {
		if !f.d.IsZero() && f.d.Before(r.ProducedOn) {
			return fieldErr(f.name, "%s is before produced_on %s", f.d, r.ProducedOn)
		}
	}
	if r.ShelfLifeDays < 0 || r.ShelfLifeDays > 3650 {
		return fieldErr("shelf_life_days", "%d is not a number of days from 1 to 3650", r.ShelfLifeDays)
	}

	switch {
	case math.IsNaN(r.Quantity) || math.IsInf(r.Quantity, 0) || r.Quantity < 0 || r.Quantity >= 1e9:
		return fieldErr("quantity", "%s is not a positive number below 1000000000", strconv.FormatFloat(r.Quantity, 'f', -1, 64))
	case r.Quantity != 0 && math.Abs(r.Quantity*1000-math.Round(r.Quantity*1000)) > 1e-6:
		return fieldErr("quantity", "%s has more than 3 decimals", strconv.FormatFloat(r.Quantity, 'f', -1, 64))
	case r.Unit != "" && !oneOf(r.Unit, units):
		return fieldErr("unit", "unknown unit %q (known: %s)", r.Unit, list(units))
	case r.Quantity != 0 && r.Unit == "":
		return fieldErr("unit", "missing (required with quantity)")
	case r.Quantity == 0 && r.Unit != "":
		return fieldErr("quantity", "missing (required with unit)")
	}
	return nil
}

// checkText checks both languages of the text named name (the CSV columns
// name_zh and name_en): both or neither given, printable, not too long.
func checkText(name string, t Text, required bool) error {
	for _, l := range []struct{ col, v string }{{name + "_zh", t.ZH}, {name + "_en", t.EN}} {
		if err := checkString(l.col, l.v); err != nil {
			return err
		}
	}
	switch {
	case t.ZH == "" && (required || t.EN != ""):
		return fieldErr(name+"_zh", "missing (%s)", why(required, name+"_en"))
	case t.EN == "" && (required || t.ZH != ""):
		return fieldErr(name+"_en", "missing (%s)", why(required, name+"_zh"))
	}
	return nil
}

func why(required bool, other string) string {
	if required {
		return "required"
	}
	return "required with " + other
}

// checkString refuses text a speech engine or a CSV file would stumble on.
func checkString(col, v string) error {
	if !utf8.ValidString(v) {
		return fieldErr(col, "not valid UTF-8 (save the file as UTF-8)")
	}
	if n := utf8.RuneCountInString(v); n > maxText {
		return fieldErr(col, "%d characters, at most %d", n, maxText)
	}
	for _, c := range v {
		if c < ' ' || c == 0x7f {
			return fieldErr(col, "holds a control character %q", c)
		}
	}
	return nil
}
