package audio

import (
	"fmt"
	"math"
	"math/bits"
	"math/cmplx"
	"time"
)

// Match is the best alignment of a reference within a signal.
type Match struct {
	// Score is the normalized cross-correlation at Lag, in [-1, 1]: 1 when
	// the overlapping parts are identical up to a positive gain.
	Score float64
	// Lag is the sample offset of the reference's first sample in the
	// signal (negative when the reference starts before the signal).
	Lag int
	// Offset is Lag as a duration.
	Offset time.Duration
}

// XCorr returns the maximum over lags of the normalized cross-correlation of
// x and y, and the lag where it occurs: y[i] aligned with x[i+lag]. At each
// lag the score is sum(x·y) / sqrt(sum(x²)·sum(y²)) over the overlapping
// samples only, so a short reference found inside a long recording scores
// 1, not its share of the length. Lags with fewer than minOverlap
// overlapping samples (at least 1) are not considered, which keeps a few
// samples at the edges from matching by accident. Lags where either side is
// all zeros score 0. Computed with an FFT in O((n+m) log(n+m)).
func XCorr(x, y []float64, minOverlap int) (score float64, lag int) {
	n, m := len(x), len(y)
	minOverlap = max(1, minOverlap)
	if n == 0 || m == 0 || minOverlap > min(n, m) {
		return 0, 0
	}

	size := 1 << bits.Len(uint(n+m-1))
	fx := make([]complex128, size)
	fy := make([]complex128, size)
	for i, v := range x {
		fx[i] = complex(v, 0)
	}
	for i, v := range y {
		fy[i] = complex(v, 0)
	}
	fft(fx, false)
	fft(fy, false)
	for i := range fx {
		fx[i] *= cmplx.Conj(fy[i])
	}
	fft(fx, true) // fx[k] = sum_i x[i+k]·y[i], negative k wrapped to size+k

	// Prefix sums of squares give each lag's overlap energies in O(1).
	px := prefixSquares(x)
	py := prefixSquares(y)

	best, bestLag := math.Inf(-1), 0
	for k := -(m - 1); k <= n-1; k++ {
		lo, hi := max(0, -k), min(m, n-k) // overlap in y's indices
		if hi-lo < minOverlap {
			continue
		}
		ex := px[hi+k] - px[lo+k]
		ey := py[hi] - py[lo]
		s := 0.0
		if ex > 0 && ey > 0 {
			idx := k
			if idx < 0 {
				idx += size
			}
			s = real(fx[idx]) / math.Sqrt(ex*ey)
		}
		if s > best {
			best, bestLag = s, k
		}
	}
	// Rounding can push a perfect match a hair past 1.
	return max(-1, min(1, best)), bestLag
}

func prefixSquares(v []float64) []float64 {
	p := make([]float64, len(v)+1)
	for i, f := range v {
		p[i+1] = p[i] + f*f
	}
	return p
}

// fft is an in-place iterative radix-2 transform; len(a) must be a power of
// two. The inverse is scaled by 1/len(a).
func fft(a []complex128, inverse bool) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		ang := 2 * math.Pi / float64(size)
		if !inverse {
			ang = -ang
		}
		wn := cmplx.Rect(1, ang)
		half := size / 2
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := 0; k < half; k++ {
				u, v := a[start+k], a[start+k+half]*w
				a[start+k], a[start+k+half] = u+v, u-v
				w *= wn
			}
		}
	}
	if inverse {
		inv := complex(1/float64(n), 0)
		for i := range a {
			a[i] *= inv
		}
	}
}

// CrossCorrelate finds where ref best matches inside heard, comparing
// waveforms with XCorr. Only lags where at least minOverlap of audio overlap
// count; zero or negative means all of ref (or all of heard if shorter), so
// the reference must fit entirely. The two must share a sample rate.
func CrossCorrelate(heard, ref PCM, minOverlap time.Duration) (Match, error) {
	if heard.Rate != ref.Rate {
		return Match{}, fmt.Errorf("%w: %d and %d", ErrRateMismatch, heard.Rate, ref.Rate)
	}
	if heard.Rate <= 0 {
		return Match{}, fmt.Errorf("audio: sample rate %d", heard.Rate)
	}
	need := min(len(heard.Samples), len(ref.Samples))
	if minOverlap > 0 {
		need = samplesIn(minOverlap, heard.Rate)
	}
	score, lag := XCorr(floats(heard.Samples), floats(ref.Samples), need)
	return Match{Score: score, Lag: lag, Offset: time.Duration(lag) * time.Second / time.Duration(heard.Rate)}, nil
}

func floats(s []int16) []float64 {
	f := make([]float64, len(s))
	for i, v := range s {
		f[i] = float64(v)
	}
	return f
}
