package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func wavBytes(t testing.TB, p PCM) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteWAV(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// chunk builds a RIFF chunk with its pad byte.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtBody(format, channels uint16, rate uint32, bits uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], format)
	binary.LittleEndian.PutUint16(b[2:], channels)
	binary.LittleEndian.PutUint32(b[4:], rate)
	binary.LittleEndian.PutUint32(b[8:], rate*uint32(channels)*uint32(bits/8))
	binary.LittleEndian.PutUint16(b[12:], channels*bits/8)
	binary.LittleEndian.PutUint16(b[14:], bits)
	return b
}

func riff(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestWAVRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		pcm  PCM
	}{
		{"empty", PCM{Rate: Rate}},
		{"tone", Tone(440, 250*time.Millisecond, -6, Rate)},
		{"extremes", PCM{Rate: Rate, Samples: []int16{-32768, 32767, 0, -1, 1}}},
		{"16kHz", Noise(100*time.Millisecond, -20, 1, 16000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := wavBytes(t, tt.pcm)
			if len(b) != 44+2*len(tt.pcm.Samples) {
				t.Fatalf("size %d, want canonical 44-byte header + data", len(b))
			}
			got, err := ReadWAV(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got.Rate != tt.pcm.Rate || !slices.Equal(got.Samples, tt.pcm.Samples) {
				t.Fatalf("round trip changed the signal: rate %d, %d samples", got.Rate, len(got.Samples))
			}
		})
	}
}

func TestReadWAV(t *testing.T) {
	data := []byte{1, 0, 0xff, 0xff} // samples 1, -1
	ext := make([]byte, 40)
	copy(ext, fmtBody(wavFormatExtensible, 1, 8000, 16))
	binary.LittleEndian.PutUint16(ext[16:], 22)
	binary.LittleEndian.PutUint16(ext[24:], wavFormatPCM)

	unknown := riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)))
	unknown = append(unknown, "data\xff\xff\xff\xff"...)
	unknown = append(unknown, data...)

	tests := []struct {
		name    string
		in      []byte
		want    []int16
		wantErr error
	}{
		{"plain", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", data)), []int16{1, -1}, nil},
		{"skips LIST and odd chunks", riff(chunk("LIST", []byte("abc")), chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", data)), []int16{1, -1}, nil},
		{"extensible PCM", riff(chunk("fmt ", ext), chunk("data", data)), []int16{1, -1}, nil},
		{"unknown data size runs to end", unknown, []int16{1, -1}, nil},
		{"stops after data", append(riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", data)), "junkjunk"...), []int16{1, -1}, nil},
		{"empty input", nil, nil, ErrInvalidWAV},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), nil, ErrInvalidWAV},
		{"no data chunk", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16))), nil, ErrInvalidWAV},
		{"data before fmt", riff(chunk("data", data), chunk("fmt ", fmtBody(1, 1, 8000, 16))), nil, ErrInvalidWAV},
		{"truncated data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", data))[:44+3], nil, ErrInvalidWAV},
		{"odd data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", data[:3])), nil, ErrInvalidWAV},
		{"short fmt", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)[:14]), chunk("data", data)), nil, ErrInvalidWAV},
		{"zero rate", riff(chunk("fmt ", fmtBody(1, 1, 0, 16)), chunk("data", data)), nil, ErrInvalidWAV},
		{"stereo", riff(chunk("fmt ", fmtBody(1, 2, 8000, 16)), chunk("data", data)), nil, ErrUnsupportedWAV},
		{"8 bit", riff(chunk("fmt ", fmtBody(1, 1, 8000, 8)), chunk("data", data)), nil, ErrUnsupportedWAV},
		{"mu-law", riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("data", data)), nil, ErrUnsupportedWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Rate != 8000 || !slices.Equal(got.Samples, tt.want) {
				t.Fatalf("got rate %d samples %v, want 8000 %v", got.Rate, got.Samples, tt.want)
			}
		})
	}
}

func TestWAVFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tone.wav")
	want := Tone(1000, 100*time.Millisecond, -3, Rate)
	if err := WriteWAVFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Samples, want.Samples) {
		t.Fatal("file round trip changed the samples")
	}
	if _, err := ReadWAVFile(filepath.Join(t.TempDir(), "missing.wav")); err == nil {
		t.Fatal("reading a missing file succeeded")
	}
}

func TestWriteWAVRejectsBadRate(t *testing.T) {
	if err := WriteWAV(&bytes.Buffer{}, PCM{Rate: 0, Samples: []int16{1}}); err == nil {
		t.Fatal("rate 0 accepted")
	}
}

// FuzzReadWAV checks that no input panics or allocates wildly, and that
// whatever is accepted survives a write/read round trip.
func FuzzReadWAV(f *testing.F) {
	f.Add(wavBytes(f, Tone(440, 10*time.Millisecond, -6, Rate)))
	f.Add(riff(chunk("LIST", []byte("abc")), chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", []byte{1, 2})))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ReadWAV(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalidWAV) && !errors.Is(err, ErrUnsupportedWAV) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if len(p.Samples)*2 > len(in) {
			t.Fatalf("%d samples from %d bytes", len(p.Samples), len(in))
		}
		var b bytes.Buffer
		if err := WriteWAV(&b, p); err != nil {
			t.Fatal(err)
		}
		q, err := ReadWAV(&b)
		if err != nil {
			t.Fatal(err)
		}
		if q.Rate != p.Rate || !slices.Equal(q.Samples, p.Samples) {
			t.Fatal("round trip changed the signal")
		}
	})
}
