package tts

import "math"

// Resampling: a polyphase windowed-sinc filter. The low-pass passes up to
// 85% of the lower Nyquist frequency (3.4 kHz when the output is 8 kHz, the
// telephone band) and stops everything above the Nyquist frequency by at
// least 80 dB (Kaiser window), so nothing folds back into the band as an
// alias. Every phase of the filter is scaled to unit gain at DC.
const (
	resamplePass   = 0.85 // passband edge, share of the lower Nyquist frequency
	resampleAtten  = 80.0 // stopband attenuation in dB
	resamplePhases = 4096 // most filter phases kept; rates without a small common divisor round to them
)

// resample converts x from rate in to rate out. Equal rates copy.
func resample(x []int16, in, out int) []float64 {
	if in == out || len(x) == 0 {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = float64(v)
		}
		return y
	}
	nyq := float64(min(in, out)) / 2
	pass, stop := resamplePass*nyq, nyq
	fc := (pass + stop) / 2 / float64(in) // cut-off, cycles per input sample
	df := (stop - pass) / float64(in)     // transition width, same unit
	beta := 0.1102 * (resampleAtten - 8.7)
	taps := int(math.Ceil((resampleAtten - 8) / (2.285 * 2 * math.Pi * df)))
	half := taps/2 + 1 // the kernel spans input samples within half of the position

	g := gcd(in, out)
	phases := min(out/g, resamplePhases)
	width := 2 * half
	coef := make([]float64, phases*width)
	i0beta := besselI0(beta)
	for p := range phases {
		row := coef[p*width : (p+1)*width]
		sum := 0.0
		for j := range row {
			d := float64(p)/float64(phases) + float64(half-1-j) // position minus input index
			t := d / float64(half)
			if t <= -1 || t >= 1 {
				continue
			}
			w := besselI0(beta*math.Sqrt(1-t*t)) / i0beta
			row[j] = 2 * fc * sinc(2*fc*d) * w
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}

	xf := make([]float64, len(x))
	for i, v := range x {
		xf[i] = float64(v)
	}
	n := int((int64(len(x))*int64(out) + int64(in) - 1) / int64(in))
	y := make([]float64, n)
	for i := range y {
		num := int64(i) * int64(in)
		base, rem := int(num/int64(out)), num%int64(out)
		p := int((rem*int64(phases) + int64(out)/2) / int64(out))
		if p == phases {
			p, base = 0, base+1
		}
		row := coef[p*width : (p+1)*width]
		first := base - half + 1 // input index of row[0]
		lo, hi := max(0, -first), min(width, len(x)-first)
		if lo >= hi {
			continue
		}
		r, s := row[lo:hi], xf[first+lo:first+hi]
		s = s[:len(r)]
		acc := 0.0
		for j, c := range r {
			acc += c * s[j]
		}
		y[i] = acc
	}
	return y
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-16 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
