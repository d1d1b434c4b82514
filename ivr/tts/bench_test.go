package tts

import (
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Read-outs of a trace record, about ten seconds of speech each.
var readouts = []struct {
	name  string
	voice Voice
	text  string
}{
	{"zh", Voice{Lang: "zh"}, "您查询的产品是冷鲜猪里脊，产地山东临沂，十一月三日屠宰，检疫合格。"},
	{"en", Voice{Lang: "en"}, "Your product is chilled pork loin from Yihe farm in Linyi, Shandong province, slaughtered on November third and passed quarantine inspection."},
}

// BenchmarkEspeakRender renders a ten-second read-out: the wait of a caller
// whose read-out is not cached. Reports the seconds of speech per rendering.
func BenchmarkEspeakRender(b *testing.B) {
	e := newEspeak(b)
	for _, r := range readouts {
		b.Run(r.name, func(b *testing.B) {
			var p audio.PCM
			for b.Loop() {
				var err error
				if p, err = e.Render(b.Context(), r.voice, r.text); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(p.Duration().Seconds(), "speech-s")
		})
	}
}

// BenchmarkCacheHit is Get of a cached text: what every TTS prompt of a call costs.
func BenchmarkCacheHit(b *testing.B) {
	c, err := NewCache(toneEngine{}, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	v := Voice{Lang: "zh"}
	if _, err := c.Get(b.Context(), v, readouts[0].text); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Get(b.Context(), v, readouts[0].text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResample converts ten seconds of espeak-ng's 22050 Hz to 8 kHz.
func BenchmarkResample(b *testing.B) {
	x := audio.Noise(10*time.Second, -20, 1, 22050).Samples
	for b.Loop() {
		resample(x, 22050, audio.Rate)
	}
}
