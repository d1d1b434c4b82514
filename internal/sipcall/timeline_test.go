package sipcall

import (
	"testing"
	"time"
)

func TestTimelinePlace(t *testing.T) {
	const n = 160 // one 20 ms packet
	ms := func(d int) int { return samples(time.Duration(d) * time.Millisecond) }
	type packet struct {
		ssrc uint32
		ts   uint32
		wall int // arrival, in samples since the answer, minus n
		want int
	}
	tests := []struct {
		name    string
		packets []packet
	}{
		{"steady stream placed from its first packet", []packet{
			{1, 5000, ms(3), ms(3)},
			{1, 5160, ms(23), ms(23)},
			{1, 5320, ms(44), ms(43)},
		}},
		{"packets read late in a burst keep their places", []packet{
			{1, 0, 0, 0},
			{1, 160, ms(250), ms(20)},
			{1, 320, ms(250), ms(40)},
			{1, 480, ms(251), ms(60)},
			{1, 640, ms(80), ms(80)},
		}},
		{"first packet read before the answer starts at 0", []packet{
			{1, 0, -ms(5), 0},
			{1, 160, ms(15), ms(20)},
		}},
		{"pause in the stream kept from its timestamps", []packet{
			{1, 0, 0, 0},
			{1, 160, ms(20), ms(20)},
			{1, 160 + uint32(ms(1500)), ms(1530), ms(1520)},
		}},
		{"pause after a late first packet placed at arrival", []packet{
			{1, 0, ms(300), ms(300)}, // read 300 ms late
			{1, 160, ms(320), ms(320)},
			{1, uint32(ms(1000)), ms(1000), ms(1000)},
		}},
		{"new SSRC anchored at its arrival", []packet{
			{1, 0, 0, 0},
			{1, 160, ms(20), ms(20)},
			{2, 999999, ms(900), ms(900)},
			{2, 999999 + 160, ms(925), ms(920)},
		}},
		{"new SSRC never overwrites what was heard", []packet{
			{1, 0, ms(500), ms(500)}, // read late, then the rest in a burst
			{1, 160, ms(500), ms(520)},
			{1, 320, ms(500), ms(540)},
			{2, 7, ms(510), ms(560)},
		}},
		{"timestamps jumping back start after what was heard", []packet{
			{1, 80000, ms(3000), ms(3000)},
			{1, 80160, ms(3020), ms(3020)},
			{1, 80320, ms(3040), ms(3040)},
			{1, 79000, ms(3060), ms(3060)},
			{1, 79160, ms(3080), ms(3080)},
		}},
		{"timestamps before the stream began start after what was heard", []packet{
			{1, 80000, 0, 0},
			{1, 80160, ms(20), ms(20)},
			{1, 60000, ms(40), ms(40)},
		}},
		{"timestamps jumping far ahead anchored again", []packet{
			{1, 0, 0, 0},
			{1, 160, ms(20), ms(20)},
			{1, 8000 * 60, ms(40), ms(40)},
			{1, 8000*60 + 160, ms(60), ms(60)},
		}},
		{"reordered packet keeps its place", []packet{
			{1, 0, 0, 0},
			{1, 320, ms(40), ms(40)},
			{1, 160, ms(41), ms(20)},
		}},
		{"timestamp wrap-around", []packet{
			{1, 1<<32 - 160, 0, 0},
			{1, 0, ms(20), ms(20)},
			{1, 160, ms(40), ms(40)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl timeline
			for i, p := range tt.packets {
				if got := tl.place(p.ssrc, p.ts, n, p.wall); got != p.want {
					t.Errorf("packet %d (ssrc %d ts %d wall %d): placed at %d, want %d", i, p.ssrc, p.ts, p.wall, got, p.want)
				}
			}
		})
	}
}
