package trace

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Vars returns the variables a flow's read-out template uses after a trace
// lookup, as text to be spoken in lang: "zh" (Mandarin; also zh-CN, cmn...)
// or English for any other language. now (in the hotline's time zone) decides
// whether the product is still within its shelf life.
//
// Keys (examples in English):
//
//	trace.code              6901234567892
//	trace.code_spoken       6 9 0 1 2 3 4 5 6 7 8 9 2 (digit by digit in both languages)
//	trace.product           chilled pork belly
//	trace.category          meat | vegetables
//	trace.batch             L H 2 0 2 6 1 1 0 3, 0 7 (character by character)
//	trace.origin            Kangyuan Pig Farm in Luohe, Henan
//	trace.origin_kind       farm | breeding base | planting base
//	trace.processor         Luohe Kangyuan Designated Pig Slaughterhouse
//	trace.processor_kind    slaughterhouse | packing workshop
//	trace.inspection        inspection passed, certificate 4 1 1 1 ...
//	trace.inspection_agency Luohe Animal Health Supervision Institute
//	trace.inspection_date   November 3, 2026
//	trace.market            Beijing Xinfadi Wholesale Market
//	trace.market_region     Fengtai District, Beijing
//	trace.retailer          Huimin Supermarket, Fengtai branch in Fengtai District, Beijing
//	trace.produced_label    slaughter date | harvest date | production date
//	trace.produced_on       November 3, 2026 (zh 2026年11月3日)
//	trace.packed_on         November 3, 2026
//	trace.best_before       November 10, 2026 (given, or produced_on + shelf life)
//	trace.shelf_status      within its shelf life | past its best-before date
//	trace.quantity          2.5 kilograms (zh 2点五公斤)
//
// What the record does not have reads "not recorded" (未登记). Codes and
// certificate numbers are spelled as digits separated by spaces: espeak-ng's
// Mandarin and English voices read "6 9 0 1" as single digits, where "6901"
// would be six thousand nine hundred and one. Decimals in Mandarin are written
// "2点五", as they are spoken: espeak-ng drops the point of "2.5".
func Vars(rec *Record, lang string, now time.Time) map[string]string {
	w := words(lang)
	text := func(t Text) string {
		if s := t.In(lang); s != "" {
			return s
		}
		return w.none
	}
	place := func(p Place) string {
		name, region := p.Name.In(lang), p.Region.In(lang)
		switch {
		case name == "":
			return w.none
		case region == "":
			return name
		}
		return fmt.Sprintf(w.placeIn, name, region)
	}
	date := func(d Date) string {
		if d.IsZero() {
			return w.none
		}
		return w.date(d)
	}
	v := map[string]string{
		"trace.code":              string(rec.Code),
		"trace.code_spoken":       rec.Code.Spoken(),
		"trace.product":           text(rec.Product),
		"trace.category":          w.lookup(string(rec.Category)),
		"trace.batch":             orNone(spell(rec.Batch), w.none),
		"trace.origin":            place(rec.Origin.Place),
		"trace.origin_kind":       w.originKind(rec.Category, rec.Origin.Kind),
		"trace.processor":         text(rec.Processor.Name),
		"trace.processor_kind":    w.lookup(string(rec.Processor.Kind)),
		"trace.inspection":        w.inspection(rec.Inspection),
		"trace.inspection_agency": text(rec.Inspection.Agency),
		"trace.inspection_date":   date(rec.Inspection.Date),
		"trace.market":            text(rec.Market.Name),
		"trace.market_region":     text(rec.Market.Region),
		"trace.retailer":          place(rec.Retailer),
		"trace.produced_label":    w.producedLabel(rec),
		"trace.produced_on":       date(rec.ProducedOn),
		"trace.packed_on":         date(rec.PackedOn),
		"trace.quantity":          w.quantity(rec.Quantity, rec.Unit),
	}
	bb := rec.bestBefore()
	v["trace.best_before"] = date(bb)
	switch {
	case bb.IsZero():
		v["trace.shelf_status"] = w.shelfUnknown
	case DateOf(now).Before(bb.AddDays(1)):
		v["trace.shelf_status"] = w.shelfOK
	default:
		v["trace.shelf_status"] = w.shelfPast
	}
	return v
}

// bestBefore is the best-before date given, or the production date plus the
// shelf life.
func (r *Record) bestBefore() Date {
	switch {
	case !r.BestBefore.IsZero():
		return r.BestBefore
	case r.ShelfLifeDays > 0 && !r.ProducedOn.IsZero():
		return r.ProducedOn.AddDays(r.ShelfLifeDays)
	}
	return Date{}
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// spell writes s character by character, separated by spaces, for speech;
// a run of other characters (- / . and the like) becomes a pause (", ").
func spell(s string) string {
	var b strings.Builder
	gap := ""
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			if b.Len() > 0 {
				gap = ", "
			}
			continue
		}
		if b.Len() > 0 && gap == "" {
			gap = " "
		}
		b.WriteString(gap)
		b.WriteRune(c)
		gap = ""
	}
	return b.String()
}

// wording is the words of a language.
type wording struct {
	zh                           bool
	none                         string
	placeIn                      string // name, region
	terms                        map[string]string
	shelfOK, shelfPast           string
	shelfUnknown                 string
	passed, failed, certificate  string
	noInspection                 string
	slaughtered, harvested, made string
}

var zhWords = wording{
	zh:      true,
	none:    "未登记",
	placeIn: "%s，位于%s",
	terms: map[string]string{
		"meat": "肉类", "vegetable": "蔬菜",
		"breeding_base": "养殖基地", "planting_base": "种植基地",
		"slaughterhouse": "屠宰场", "packing_workshop": "包装车间",
	},
	shelfOK: "在保质期内", shelfPast: "已超过保质期", shelfUnknown: "保质期未登记",
	passed: "检验合格", failed: "检验不合格", certificate: "，证书编号 ",
	noInspection: "暂无检验记录",
	slaughtered:  "屠宰日期", harvested: "采收日期", made: "生产日期",
}

var enWords = wording{
	none:    "not recorded",
	placeIn: "%s in %s",
	terms: map[string]string{
		"meat": "meat", "vegetable": "vegetables",
		"farm": "farm", "breeding_base": "breeding base", "planting_base": "planting base",
		"slaughterhouse": "slaughterhouse", "packing_workshop": "packing workshop",
	},
	shelfOK: "within its shelf life", shelfPast: "past its best-before date", shelfUnknown: "shelf life not recorded",
	passed: "inspection passed", failed: "inspection failed", certificate: ", certificate ",
	noInspection: "no inspection on record",
	slaughtered:  "slaughter date", harvested: "harvest date", made: "production date",
}

func words(lang string) *wording {
	if isZH(lang) {
		return &zhWords
	}
	return &enWords
}

// lookup translates a category or kind; an unknown one is read as it is.
func (w *wording) lookup(key string) string {
	if key == "" {
		return w.none
	}
	if t, ok := w.terms[key]; ok {
		return t
	}
	return strings.ReplaceAll(key, "_", " ")
}

func (w *wording) originKind(c Category, k OriginKind) string {
	if w.zh && k == Farm {
		if c == Meat {
			return "养殖场"
		}
		return "农场"
	}
	return w.lookup(string(k))
}

func (w *wording) inspection(in Inspection) string {
	var s string
	switch in.Result {
	case Pass:
		s = w.passed
	case Fail:
		s = w.failed
	default:
		return w.noInspection
	}
	if c := spell(in.Certificate); c != "" {
		s += w.certificate + c
	}
	return s
}

func (w *wording) producedLabel(r *Record) string {
	switch {
	case r.Category == Vegetable:
		return w.harvested
	case r.Category == Meat && r.Processor.Kind == Slaughterhouse:
		return w.slaughtered
	}
	return w.made
}

var enMonths = [...]string{"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

func (w *wording) date(d Date) string {
	if w.zh {
		return fmt.Sprintf("%d年%d月%d日", d.Year, int(d.Month), d.Day)
	}
	return fmt.Sprintf("%s %d, %d", enMonths[d.Month], d.Day, d.Year)
}

// zhDigits are the Chinese numerals 0-9.
var zhDigits = []rune("零一二三四五六七八九")

func (w *wording) quantity(q float64, u Unit) string {
	if q == 0 {
		return w.none
	}
	n := strconv.FormatFloat(q, 'f', -1, 64)
	uw, known := unitWords[u]
	if w.zh {
		if whole, frac, ok := strings.Cut(n, "."); ok {
			var b strings.Builder
			b.WriteString(whole + "点")
			for _, c := range frac {
				b.WriteRune(zhDigits[c-'0'])
			}
			n = b.String()
		}
		if !known {
			return n + string(u)
		}
		return n + uw[0]
	}
	if !known {
		return n + " " + string(u)
	}
	if n == "1" {
		return n + " " + uw[1]
	}
	return n + " " + uw[2]
}
