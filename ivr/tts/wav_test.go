package tts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

func wavBytes(t testing.TB, p audio.PCM) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Streamed WAV: the writer could not go back to fill in the sizes.
func TestDecodeWAVStreamed(t *testing.T) {
	src := audio.Tone(440, 100*time.Millisecond, -6, 22050)
	for _, tc := range []struct {
		name     string
		dataSize uint32
		extra    []byte
	}{
		{"exact", 2 * uint32(len(src.Samples)), nil},
		{"espeak-ng", 0x7FFFF000, nil},
		{"unknown", 0xFFFFFFFF, nil},
		{"zero", 0, nil},
		{"odd last byte", 0x7FFFF000, []byte{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append(wavBytes(t, src), tc.extra...)
			binary.LittleEndian.PutUint32(b[40:], tc.dataSize)
			got, err := decodeWAV(b)
			if err != nil {
				t.Fatal(err)
			}
			if !equalPCM(got, src) {
				t.Fatalf("%d samples at %d Hz, want %d at %d", len(got.Samples), got.Rate, len(src.Samples), src.Rate)
			}
		})
	}
}

func TestDecodeWAVFromEspeak(t *testing.T) {
	out, err := exec.Command("espeak-ng", "-v", "en-us", "--stdout", "trace code").Output()
	if err != nil {
		t.Fatalf("espeak-ng (Debian package espeak-ng): %v", err)
	}
	p, err := decodeWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != 22050 || p.Duration() < 300*time.Millisecond {
		t.Fatalf("%d Hz, %s", p.Rate, p.Duration())
	}
}

func TestDecodeWAVRefuses(t *testing.T) {
	stereo := wavBytes(t, audio.Tone(440, 10*time.Millisecond, -6, 8000))
	binary.LittleEndian.PutUint16(stereo[22:], 2)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, audio.ErrInvalidWAV},
		{"not WAV", []byte("<html>not found</html>"), audio.ErrInvalidWAV},
		{"header only", wavBytes(t, audio.PCM{Rate: 8000})[:12], audio.ErrInvalidWAV},
		{"stereo", stereo, audio.ErrUnsupportedWAV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeWAV(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecodeWAV(f *testing.F) {
	f.Add(wavBytes(f, audio.Tone(440, 10*time.Millisecond, -6, 8000)))
	b := wavBytes(f, audio.Tone(440, 10*time.Millisecond, -6, 22050))
	binary.LittleEndian.PutUint32(b[40:], 0x7FFFF000)
	f.Add(b)
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeWAV(b)
		if err == nil && (p.Rate <= 0 || 2*len(p.Samples) > len(b)) {
			t.Fatalf("accepted %d bytes as %d samples at %d Hz", len(b), len(p.Samples), p.Rate)
		}
	})
}
