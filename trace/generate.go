package trace

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// SampleCode is the code of the well-known sample record Generate always
// puts first: chilled pork belly from Luohe, Henan, sold in Beijing.
const SampleCode Code = "6901234567892"

// Sample returns the sample record of SampleCode.
func Sample() Record {
	produced := Date{2026, time.November, 3}
	luohe := origins[0]
	return Record{
		Code:     SampleCode,
		Category: Meat,
		Product:  Text{"冷鲜猪肉（五花肉）", "chilled pork belly"},
		Batch:    "LH20261103-07",
		Origin: Origin{Kind: Farm, Place: Place{
			Name:   Text{"康源生猪养殖场", "Kangyuan Pig Farm"},
			Region: Text{luohe.zh, luohe.en},
		}},
		Processor: Processor{
			Kind:    Slaughterhouse,
			Name:    Text{"漯河市康源生猪定点屠宰场", "Luohe Kangyuan Designated Pig Slaughterhouse"},
			Licence: "A41110201",
		},
		Inspection: Inspection{
			Certificate: "4111030071",
			Result:      Pass,
			Agency:      Text{"漯河市动物卫生监督所", "Luohe Animal Health Supervision Institute"},
			Date:        produced,
		},
		Market:        Place{Name: Text{markets[0].zh, markets[0].en}, Region: Text{"北京市丰台区", "Fengtai District, Beijing"}},
		Retailer:      Place{Name: Text{"惠民超市（丰台店）", "Huimin Supermarket, Fengtai branch"}, Region: Text{"北京市丰台区", "Fengtai District, Beijing"}},
		ProducedOn:    produced,
		PackedOn:      produced,
		ShelfLifeDays: 7,
		BestBefore:    produced.AddDays(7),
		Quantity:      2.5,
		Unit:          Kilogram,
	}
}

// Generate returns n records of realistic sample data, the same for the same
// seed: the sample record first, then meat and vegetables from real regions
// through made-up farms, slaughterhouses and shops, via well-known wholesale
// markets, produced from September to November 2026, with valid codes of 13,
// 18 or 20 digits.
func Generate(n int, seed uint64) []Record {
	if n <= 0 {
		return nil
	}
	g := &generator{rng: rand.New(rand.NewPCG(seed, 0x74726163652d6363)), seen: map[Code]bool{SampleCode: true}}
	recs := make([]Record, 0, n)
	recs = append(recs, Sample())
	for len(recs) < n {
		recs = append(recs, g.record())
	}
	return recs
}

// WriteCSV writes records as a CSV file Import reads: a header with all
// columns, then one line per record, UTF-8 without a byte-order mark.
func WriteCSV(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns()); err != nil {
		return err
	}
	row := make([]string, len(columns))
	for i := range recs {
		for j, c := range columns {
			row[j] = c.format(&recs[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// region is where food comes from.
type region struct {
	zh, en         string // 河南省漯河市 / Luohe, Henan
	cityZH, cityEN string // 漯河市 / Luohe
	abbr, prov     string // batch prefix, province code (in licence numbers)
}

var origins = []region{
	{"河南省漯河市", "Luohe, Henan", "漯河市", "Luohe", "LH", "41"},
	{"山东省临沂市", "Linyi, Shandong", "临沂市", "Linyi", "LY", "37"},
	{"四川省内江市", "Neijiang, Sichuan", "内江市", "Neijiang", "NJ", "51"},
	{"湖南省湘潭市", "Xiangtan, Hunan", "湘潭市", "Xiangtan", "XT", "43"},
	{"河北省定州市", "Dingzhou, Hebei", "定州市", "Dingzhou", "DZ", "13"},
	{"内蒙古自治区通辽市", "Tongliao, Inner Mongolia", "通辽市", "Tongliao", "TL", "15"},
	{"内蒙古自治区锡林郭勒盟", "Xilingol, Inner Mongolia", "锡林郭勒盟", "Xilingol", "XL", "15"},
	{"黑龙江省齐齐哈尔市", "Qiqihar, Heilongjiang", "齐齐哈尔市", "Qiqihar", "QQ", "23"},
	{"宁夏回族自治区盐池县", "Yanchi, Ningxia", "盐池县", "Yanchi", "YC", "64"},
	{"山东省潍坊市", "Weifang, Shandong", "潍坊市", "Weifang", "WF", "37"},
	{"安徽省滁州市", "Chuzhou, Anhui", "滁州市", "Chuzhou", "CZ", "34"},
	{"山东省寿光市", "Shouguang, Shandong", "寿光市", "Shouguang", "SG", "37"},
	{"河北省张家口市", "Zhangjiakou, Hebei", "张家口市", "Zhangjiakou", "ZJ", "13"},
	{"内蒙古自治区乌兰察布市", "Ulanqab, Inner Mongolia", "乌兰察布市", "Ulanqab", "WL", "15"},
	{"甘肃省定西市", "Dingxi, Gansu", "定西市", "Dingxi", "DX", "62"},
	{"山东省济南市章丘区", "Zhangqiu, Jinan, Shandong", "章丘区", "Zhangqiu", "ZQ", "37"},
	{"云南省昆明市", "Kunming, Yunnan", "昆明市", "Kunming", "KM", "53"},
	{"海南省三亚市", "Sanya, Hainan", "三亚市", "Sanya", "SY", "46"},
	{"黑龙江省哈尔滨市", "Harbin, Heilongjiang", "哈尔滨市", "Harbin", "HB", "23"},
	{"江苏省宿迁市", "Suqian, Jiangsu", "宿迁市", "Suqian", "SQ", "32"},
}

// animal is livestock or poultry as farms and slaughterhouses name it.
type animal struct{ zh, en, slaughterZH, slaughterEN string }

var (
	pig     = &animal{"生猪", "Pig", "生猪定点屠宰场", "Designated Pig Slaughterhouse"}
	cattle  = &animal{"肉牛", "Beef Cattle", "牛羊屠宰加工厂", "Cattle and Sheep Slaughterhouse"}
	sheep   = &animal{"肉羊", "Sheep", "牛羊屠宰加工厂", "Cattle and Sheep Slaughterhouse"}
	chicken = &animal{"肉鸡", "Broiler", "禽类屠宰加工厂", "Poultry Slaughterhouse"}
	duck    = &animal{"肉鸭", "Duck", "禽类屠宰加工厂", "Poultry Slaughterhouse"}
)

type product struct {
	zh, en   string
	animal   *animal // nil for vegetables
	origins  []int   // indexes into origins
	shelf    [2]int  // days
	quantity [2]float64
}

var products = []product{
	{"冷鲜猪肉（五花肉）", "chilled pork belly", pig, []int{0, 1, 2, 3, 4, 18}, [2]int{5, 7}, [2]float64{0.4, 2.5}},
	{"猪里脊", "pork tenderloin", pig, []int{0, 1, 2, 3, 4}, [2]int{5, 7}, [2]float64{0.3, 1.5}},
	{"猪前腿肉", "pork shoulder", pig, []int{0, 2, 3, 4, 18}, [2]int{5, 7}, [2]float64{0.5, 2}},
	{"猪排骨", "pork ribs", pig, []int{0, 1, 2, 3}, [2]int{5, 7}, [2]float64{0.5, 2}},
	{"牛腩", "beef brisket", cattle, []int{5, 7, 1}, [2]int{5, 7}, [2]float64{0.5, 2}},
	{"牛腱子", "beef shank", cattle, []int{5, 7, 6}, [2]int{5, 7}, [2]float64{0.5, 1.5}},
	{"冷鲜牛里脊", "chilled beef tenderloin", cattle, []int{5, 7}, [2]int{5, 7}, [2]float64{0.3, 1}},
	{"羊后腿", "lamb leg", sheep, []int{6, 8, 5}, [2]int{5, 7}, [2]float64{1, 3}},
	{"羊排", "lamb chops", sheep, []int{6, 8}, [2]int{5, 7}, [2]float64{0.5, 2}},
	{"鸡胸肉", "chicken breast", chicken, []int{9, 10, 19, 18}, [2]int{3, 5}, [2]float64{0.3, 1.5}},
	{"整鸡", "whole chicken", chicken, []int{9, 10, 19}, [2]int{3, 5}, [2]float64{1.2, 2}},
	{"鸡腿", "chicken drumsticks", chicken, []int{9, 10, 19, 18}, [2]int{3, 5}, [2]float64{0.5, 1.5}},
	{"整鸭", "whole duck", duck, []int{9, 10, 19}, [2]int{3, 5}, [2]float64{1.5, 2.5}},
	{"大白菜", "Chinese cabbage", nil, []int{12, 1, 4, 15}, [2]int{7, 14}, [2]float64{1.5, 4}},
	{"西红柿", "tomatoes", nil, []int{11, 16, 17}, [2]int{5, 10}, [2]float64{0.5, 2}},
	{"黄瓜", "cucumbers", nil, []int{11, 17, 16}, [2]int{3, 7}, [2]float64{0.5, 1.5}},
	{"土豆", "potatoes", nil, []int{13, 14, 18}, [2]int{20, 30}, [2]float64{1, 5}},
	{"菠菜", "spinach", nil, []int{11, 12}, [2]int{2, 4}, [2]float64{0.3, 1}},
	{"胡萝卜", "carrots", nil, []int{12, 15, 13}, [2]int{10, 20}, [2]float64{0.5, 2.5}},
	{"青椒", "green peppers", nil, []int{11, 17}, [2]int{5, 7}, [2]float64{0.3, 1}},
	{"茄子", "eggplants", nil, []int{11, 17}, [2]int{4, 7}, [2]float64{0.5, 1.5}},
	{"西兰花", "broccoli", nil, []int{12, 16}, [2]int{3, 5}, [2]float64{0.3, 1}},
	{"韭菜", "Chinese chives", nil, []int{11, 15}, [2]int{2, 3}, [2]float64{0.3, 1}},
	{"生菜", "lettuce", nil, []int{12, 16}, [2]int{2, 4}, [2]float64{0.3, 1}},
	{"章丘大葱", "Zhangqiu scallions", nil, []int{15}, [2]int{7, 14}, [2]float64{1, 3}},
}

// names of farms and firms (made up), in Chinese and pinyin.
var names = [][2]string{
	{"康源", "Kangyuan"}, {"绿源", "Lvyuan"}, {"丰禾", "Fenghe"}, {"金穗", "Jinsui"}, {"润田", "Runtian"},
	{"兴旺", "Xingwang"}, {"青禾", "Qinghe"}, {"瑞丰", "Ruifeng"}, {"宏达", "Hongda"}, {"天成", "Tiancheng"},
	{"福满", "Fuman"}, {"嘉禾", "Jiahe"}, {"益农", "Yinong"}, {"田园", "Tianyuan"}, {"草原", "Caoyuan"},
}

type district struct{ zh, en, short, shortEN string }

// market is a wholesale market and the districts of the shops it supplies.
type market struct {
	zh, en           string
	regionZH, region string
	vegOnly          bool
	cityZH, cityEN   string
	districts        []district
}

var markets = []market{
	{"北京新发地农产品批发市场", "Beijing Xinfadi Wholesale Market", "北京市丰台区", "Fengtai District, Beijing", false, "北京市", "Beijing",
		[]district{{"朝阳区", "Chaoyang District", "朝阳", "Chaoyang"}, {"海淀区", "Haidian District", "海淀", "Haidian"},
			{"丰台区", "Fengtai District", "丰台", "Fengtai"}, {"西城区", "Xicheng District", "西城", "Xicheng"}}},
	{"上海江桥批发市场", "Shanghai Jiangqiao Wholesale Market", "上海市嘉定区", "Jiading District, Shanghai", false, "上海市", "Shanghai",
		[]district{{"浦东新区", "Pudong New Area", "浦东", "Pudong"}, {"徐汇区", "Xuhui District", "徐汇", "Xuhui"},
			{"闵行区", "Minhang District", "闵行", "Minhang"}, {"静安区", "Jing'an District", "静安", "Jing'an"}}},
	{"广州江南果菜批发市场", "Guangzhou Jiangnan Fruit and Vegetable Wholesale Market", "广东省广州市白云区", "Baiyun District, Guangzhou", true, "广东省广州市", "Guangzhou",
		[]district{{"天河区", "Tianhe District", "天河", "Tianhe"}, {"海珠区", "Haizhu District", "海珠", "Haizhu"},
			{"越秀区", "Yuexiu District", "越秀", "Yuexiu"}}},
	{"深圳布吉农产品批发市场", "Shenzhen Buji Agricultural Wholesale Market", "广东省深圳市龙岗区", "Longgang District, Shenzhen", false, "广东省深圳市", "Shenzhen",
		[]district{{"南山区", "Nanshan District", "南山", "Nanshan"}, {"福田区", "Futian District", "福田", "Futian"},
			{"龙岗区", "Longgang District", "龙岗", "Longgang"}}},
	{"成都农产品中心批发市场", "Chengdu Agricultural Products Wholesale Center", "四川省成都市", "Chengdu, Sichuan", false, "四川省成都市", "Chengdu",
		[]district{{"锦江区", "Jinjiang District", "锦江", "Jinjiang"}, {"武侯区", "Wuhou District", "武侯", "Wuhou"},
			{"成华区", "Chenghua District", "成华", "Chenghua"}}},
	{"武汉白沙洲农副产品大市场", "Wuhan Baishazhou Agricultural Market", "湖北省武汉市洪山区", "Hongshan District, Wuhan", false, "湖北省武汉市", "Wuhan",
		[]district{{"江汉区", "Jianghan District", "江汉", "Jianghan"}, {"武昌区", "Wuchang District", "武昌", "Wuchang"},
			{"洪山区", "Hongshan District", "洪山", "Hongshan"}}},
}

// retailers are made-up shop chains.
var retailers = [][2]string{
	{"惠民超市", "Huimin Supermarket"}, {"鲜丰生鲜超市", "Xianfeng Fresh Market"}, {"百佳汇超市", "Baijiahui Supermarket"},
	{"邻里生鲜", "Linli Fresh"}, {"家家福超市", "Jiajiafu Supermarket"}, {"日日鲜菜市场", "Ririxian Wet Market"},
}

type generator struct {
	rng  *rand.Rand
	seen map[Code]bool
}

func pick[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

func (g *generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

// code is a new code with a Chinese GS1 prefix (690-699).
func (g *generator) code() Code {
	body := 12 // EAN-13
	switch r := g.rng.IntN(100); {
	case r >= 85:
		body = 19
	case r >= 60:
		body = 17
	}
	for {
		c := Complete("69" + g.digits(body-2))
		if !g.seen[c] {
			g.seen[c] = true
			return c
		}
	}
}

var generateFrom = Date{2026, time.September, 1}

func (g *generator) record() Record {
	p := pick(g, products)
	o := origins[pick(g, p.origins)]
	produced := generateFrom.AddDays(g.rng.IntN(91))
	shelf := p.shelf[0] + g.rng.IntN(p.shelf[1]-p.shelf[0]+1)
	qty := p.quantity[0] + g.rng.Float64()*(p.quantity[1]-p.quantity[0])
	r := Record{
		Code:          g.code(),
		Category:      Vegetable,
		Product:       Text{p.zh, p.en},
		Batch:         fmt.Sprintf("%s%s-%02d", o.abbr, strings.ReplaceAll(produced.String(), "-", ""), 1+g.rng.IntN(30)),
		ProducedOn:    produced,
		PackedOn:      produced.AddDays(g.rng.IntN(2)),
		ShelfLifeDays: shelf,
		BestBefore:    produced.AddDays(shelf),
		Quantity:      float64(int(qty*10+0.5)) / 10,
		Unit:          Kilogram,
	}
	r.Origin.Region = Text{o.zh, o.en}
	n := pick(g, names)
	if a := p.animal; a != nil {
		r.Category = Meat
		r.PackedOn = produced
		kind, kindZH, kindEN := Farm, "养殖场", "Farm"
		if g.rng.IntN(3) == 0 {
			kind, kindZH, kindEN = BreedingBase, "养殖基地", "Breeding Base"
		}
		r.Origin.Kind = kind
		r.Origin.Name = Text{n[0] + a.zh + kindZH, n[1] + " " + a.en + " " + kindEN}
		pn := pick(g, names)
		if g.rng.IntN(5) == 0 {
			r.Processor = Processor{Kind: PackingWorkshop,
				Name:    Text{o.cityZH + pn[0] + "肉类分割包装车间", o.cityEN + " " + pn[1] + " Meat Cutting and Packing Workshop"},
				Licence: "SC104" + o.prov + g.digits(9)}
		} else {
			licence := "SC104" + o.prov + g.digits(9)
			if a == pig {
				licence = "A" + o.prov + g.digits(6)
			}
			r.Processor = Processor{Kind: Slaughterhouse,
				Name:    Text{o.cityZH + pn[0] + a.slaughterZH, o.cityEN + " " + pn[1] + " " + a.slaughterEN},
				Licence: licence}
		}
		r.Inspection = Inspection{Certificate: o.prov + g.digits(8), Result: g.result(),
			Agency: Text{o.cityZH + "动物卫生监督所", o.cityEN + " Animal Health Supervision Institute"}, Date: produced}
	} else {
		r.Origin.Kind = Farm
		r.Origin.Name = Text{n[0] + "家庭农场", n[1] + " Family Farm"}
		if g.rng.IntN(3) > 0 {
			r.Origin.Kind = PlantingBase
			r.Origin.Name = Text{n[0] + "蔬菜种植基地", n[1] + " Vegetable Planting Base"}
		}
		if g.rng.IntN(5) < 3 {
			pn := pick(g, names)
			r.Processor = Processor{Kind: PackingWorkshop,
				Name:    Text{o.cityZH + pn[0] + "净菜加工包装车间", o.cityEN + " " + pn[1] + " Vegetable Packing Workshop"},
				Licence: "SC111" + o.prov + g.digits(9)}
		}
		if g.rng.IntN(20) > 0 {
			day := produced.AddDays(g.rng.IntN(2))
			r.Inspection = Inspection{Certificate: "JC" + strings.ReplaceAll(day.String(), "-", "") + g.digits(4), Result: g.result(),
				Agency: Text{o.cityZH + "农产品质量安全检测中心", o.cityEN + " Agricultural Product Quality and Safety Testing Center"}, Date: day}
		}
	}
	m := pick(g, markets)
	for r.Category == Meat && m.vegOnly {
		m = pick(g, markets)
	}
	r.Market = Place{Name: Text{m.zh, m.en}, Region: Text{m.regionZH, m.region}}
	d, shop := pick(g, m.districts), pick(g, retailers)
	r.Retailer = Place{
		Name:   Text{shop[0] + "（" + d.short + "店）", shop[1] + ", " + d.shortEN + " branch"},
		Region: Text{m.cityZH + d.zh, d.en + ", " + m.cityEN},
	}
	return r
}

// result is pass, now and then fail.
func (g *generator) result() InspectionResult {
	if g.rng.IntN(50) == 0 {
		return Fail
	}
	return Pass
}
