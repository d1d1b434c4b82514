package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
	// wavUnknownSize is the data size streaming writers put in the header
	// when they do not know the length; the data then runs to the end.
	wavUnknownSize = 0xFFFFFFFF
	maxFmtChunk    = 1024
	maxRate        = 768000
)

// ReadWAV decodes a RIFF/WAVE stream of 16-bit mono PCM (format 1, or
// WAVE_FORMAT_EXTENSIBLE with the PCM sub-format) at any rate. Chunks other
// than "fmt " and "data" are skipped; reading stops after the data chunk.
// A data size of 0xFFFFFFFF means "until the end of the stream". Malformed
// input returns an error wrapping ErrInvalidWAV, other formats one wrapping
// ErrUnsupportedWAV.
func ReadWAV(r io.Reader) (PCM, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return PCM{}, fmt.Errorf("%w: reading RIFF header: %v", ErrInvalidWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return PCM{}, fmt.Errorf("%w: not a RIFF/WAVE stream", ErrInvalidWAV)
	}

	rate := 0
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return PCM{}, fmt.Errorf("%w: no data chunk", ErrInvalidWAV)
			}
			return PCM{}, fmt.Errorf("%w: reading chunk header: %v", ErrInvalidWAV, err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])

		switch id {
		case "fmt ":
			if rate != 0 {
				return PCM{}, fmt.Errorf("%w: second fmt chunk", ErrInvalidWAV)
			}
			var err error
			if rate, err = readFmt(r, size); err != nil {
				return PCM{}, err
			}
		case "data":
			if rate == 0 {
				return PCM{}, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalidWAV)
			}
			return readData(r, size, rate)
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size&1)); err != nil {
				return PCM{}, fmt.Errorf("%w: skipping %q chunk: %v", ErrInvalidWAV, id, err)
			}
		}
	}
}

func readFmt(r io.Reader, size uint32) (int, error) {
	if size < 16 || size > maxFmtChunk {
		return 0, fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalidWAV, size)
	}
	b := make([]byte, size+size&1)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, fmt.Errorf("%w: reading fmt chunk: %v", ErrInvalidWAV, err)
	}
	format := binary.LittleEndian.Uint16(b[0:2])
	channels := binary.LittleEndian.Uint16(b[2:4])
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := binary.LittleEndian.Uint16(b[12:14])
	bits := binary.LittleEndian.Uint16(b[14:16])

	if format == wavFormatExtensible {
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16); the
		// GUID starts with the plain format tag.
		if size < 40 {
			return 0, fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrInvalidWAV, size)
		}
		format = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case format != wavFormatPCM:
		return 0, fmt.Errorf("%w: format tag %d, want PCM", ErrUnsupportedWAV, format)
	case channels != 1:
		return 0, fmt.Errorf("%w: %d channels, want mono", ErrUnsupportedWAV, channels)
	case bits != 16:
		return 0, fmt.Errorf("%w: %d bits per sample, want 16", ErrUnsupportedWAV, bits)
	case blockAlign != 2:
		return 0, fmt.Errorf("%w: block align %d, want 2", ErrInvalidWAV, blockAlign)
	case rate == 0 || rate > maxRate:
		return 0, fmt.Errorf("%w: sample rate %d", ErrInvalidWAV, rate)
	}
	return int(rate), nil
}

func readData(r io.Reader, size uint32, rate int) (PCM, error) {
	src := r
	if size != wavUnknownSize {
		src = io.LimitReader(r, int64(size))
	}
	// ReadAll grows with what actually arrives, so a lying header cannot
	// make us allocate gigabytes.
	b, err := io.ReadAll(src)
	if err != nil {
		return PCM{}, fmt.Errorf("%w: reading data: %v", ErrInvalidWAV, err)
	}
	if size != wavUnknownSize && len(b) < int(size) {
		return PCM{}, fmt.Errorf("%w: data chunk truncated: %d of %d bytes", ErrInvalidWAV, len(b), size)
	}
	if len(b)%2 != 0 {
		return PCM{}, fmt.Errorf("%w: odd data length %d", ErrInvalidWAV, len(b))
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return PCM{Rate: rate, Samples: s}, nil
}

// WriteWAV encodes p as a canonical 44-byte-header WAV: 16-bit mono PCM.
func WriteWAV(w io.Writer, p PCM) error {
	if p.Rate <= 0 || p.Rate > maxRate {
		return fmt.Errorf("audio: write WAV: sample rate %d", p.Rate)
	}
	dataLen := 2 * len(p.Samples)
	if uint64(dataLen)+36 > 0xFFFFFFFF {
		return fmt.Errorf("audio: write WAV: %d samples do not fit a WAV file", len(p.Samples))
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(p.Rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(p.Rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataLen))

	bw := bufio.NewWriterSize(w, 32*1024)
	if _, err := bw.Write(h[:]); err != nil {
		return err
	}
	var s [2]byte
	for _, v := range p.Samples {
		binary.LittleEndian.PutUint16(s[:], uint16(v))
		if _, err := bw.Write(s[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadWAVFile reads a WAV file with ReadWAV.
func ReadWAVFile(path string) (PCM, error) {
	f, err := os.Open(path)
	if err != nil {
		return PCM{}, err
	}
	defer f.Close()
	p, err := ReadWAV(bufio.NewReader(f))
	if err != nil {
		return PCM{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// WriteWAVFile writes p to path with WriteWAV, replacing any existing file.
func WriteWAVFile(path string, p PCM) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteWAV(f, p); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
