package trace_test

import (
	"testing"
	"time"

	"github.com/ccd-platform/ccd/trace"
)

func TestVars(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 5, 10, 0, 0, 0, cst)
	sample := trace.Sample()

	veg := trace.Sample()
	veg.Category, veg.Product = trace.Vegetable, trace.Text{ZH: "西红柿", EN: "tomatoes"}
	veg.Origin.Kind = trace.PlantingBase
	veg.Processor = trace.Processor{}
	veg.Inspection = trace.Inspection{Result: trace.Fail}
	veg.Retailer = trace.Place{Name: trace.Text{ZH: "邻里生鲜", EN: "Linli Fresh"}}
	veg.Quantity, veg.Unit = 1, trace.Kilogram
	veg.BestBefore = trace.Date{}
	veg.ShelfLifeDays = 1 // best before November 4

	bare := trace.Record{Code: "6901234567892", Category: trace.Meat, ProducedOn: sample.ProducedOn}
	odd := trace.Sample()
	odd.Quantity, odd.Unit = 12.25, trace.Head

	tests := []struct {
		name string
		rec  trace.Record
		lang string
		want map[string]string
	}{
		{"sample zh", sample, "zh", map[string]string{
			"trace.code":              "6901234567892",
			"trace.code_spoken":       "6 9 0 1 2 3 4 5 6 7 8 9 2",
			"trace.product":           "冷鲜猪肉（五花肉）",
			"trace.category":          "肉类",
			"trace.batch":             "L H 2 0 2 6 1 1 0 3, 0 7",
			"trace.origin":            "康源生猪养殖场，位于河南省漯河市",
			"trace.origin_kind":       "养殖场",
			"trace.processor":         "漯河市康源生猪定点屠宰场",
			"trace.processor_kind":    "屠宰场",
			"trace.inspection":        "检验合格，证书编号 4 1 1 1 0 3 0 0 7 1",
			"trace.inspection_agency": "漯河市动物卫生监督所",
			"trace.inspection_date":   "2026年11月3日",
			"trace.market":            "北京新发地农产品批发市场",
			"trace.market_region":     "北京市丰台区",
			"trace.retailer":          "惠民超市（丰台店），位于北京市丰台区",
			"trace.produced_label":    "屠宰日期",
			"trace.produced_on":       "2026年11月3日",
			"trace.packed_on":         "2026年11月3日",
			"trace.best_before":       "2026年11月10日",
			"trace.shelf_status":      "在保质期内",
			"trace.quantity":          "2点五公斤",
		}},
		{"sample en", sample, "en", map[string]string{
			"trace.code_spoken":       "6 9 0 1 2 3 4 5 6 7 8 9 2",
			"trace.product":           "chilled pork belly",
			"trace.category":          "meat",
			"trace.origin":            "Kangyuan Pig Farm in Luohe, Henan",
			"trace.origin_kind":       "farm",
			"trace.processor":         "Luohe Kangyuan Designated Pig Slaughterhouse",
			"trace.processor_kind":    "slaughterhouse",
			"trace.inspection":        "inspection passed, certificate 4 1 1 1 0 3 0 0 7 1",
			"trace.inspection_agency": "Luohe Animal Health Supervision Institute",
			"trace.market":            "Beijing Xinfadi Wholesale Market",
			"trace.retailer":          "Huimin Supermarket, Fengtai branch in Fengtai District, Beijing",
			"trace.produced_label":    "slaughter date",
			"trace.produced_on":       "November 3, 2026",
			"trace.best_before":       "November 10, 2026",
			"trace.shelf_status":      "within its shelf life",
			"trace.quantity":          "2.5 kilograms",
		}},
		{"unknown language is English", sample, "fr", map[string]string{
			"trace.product": "chilled pork belly", "trace.produced_on": "November 3, 2026",
		}},
		{"zh-CN is Chinese", sample, "zh-CN", map[string]string{"trace.product": "冷鲜猪肉（五花肉）"}},
		{"vegetables en", veg, "en", map[string]string{
			"trace.category":       "vegetables",
			"trace.origin_kind":    "planting base",
			"trace.processor":      "not recorded",
			"trace.processor_kind": "not recorded",
			"trace.inspection":     "inspection failed",
			"trace.retailer":       "Linli Fresh",
			"trace.produced_label": "harvest date",
			"trace.best_before":    "November 4, 2026",
			"trace.shelf_status":   "past its best-before date",
			"trace.quantity":       "1 kilogram",
		}},
		{"vegetables zh", veg, "zh", map[string]string{
			"trace.category":       "蔬菜",
			"trace.origin_kind":    "种植基地",
			"trace.inspection":     "检验不合格",
			"trace.produced_label": "采收日期",
			"trace.shelf_status":   "已超过保质期",
			"trace.quantity":       "1公斤",
		}},
		{"bare record zh", bare, "zh", map[string]string{
			"trace.product": "未登记", "trace.batch": "未登记", "trace.origin": "未登记", "trace.inspection": "暂无检验记录",
			"trace.market": "未登记", "trace.packed_on": "未登记", "trace.quantity": "未登记", "trace.shelf_status": "保质期未登记",
			"trace.produced_label": "生产日期", "trace.inspection_date": "未登记",
		}},
		{"bare record en", bare, "en", map[string]string{
			"trace.retailer": "not recorded", "trace.inspection": "no inspection on record", "trace.shelf_status": "shelf life not recorded",
		}},
		{"decimals and head zh", odd, "zh", map[string]string{"trace.quantity": "12点二五头"}},
		{"decimals and head en", odd, "en", map[string]string{"trace.quantity": "12.25 head"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trace.Vars(&tt.rec, tt.lang, now)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for k, v := range got {
				if v == "" && k != "trace.code" {
					t.Errorf("%s is empty", k)
				}
			}
		})
	}
}

func TestVarsShelfLifeLastDay(t *testing.T) {
	r := trace.Sample() // best before November 10
	cst := time.FixedZone("CST", 8*3600)
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 10, 23, 59, 0, 0, cst), "within its shelf life"},
		{time.Date(2026, 11, 11, 0, 0, 0, 0, cst), "past its best-before date"},
	} {
		if got := trace.Vars(&r, "en", tt.now)["trace.shelf_status"]; got != tt.want {
			t.Errorf("at %v: %q, want %q", tt.now, got, tt.want)
		}
	}
}
