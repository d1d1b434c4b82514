package tts

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ccd-platform/ccd/internal/audio"
)

// decodeWAV reads a whole WAV stream of 16-bit mono PCM at any rate. Programs
// that write WAV to a pipe cannot go back to fill in the sizes: espeak-ng
// puts 0x7FFFF000 there, others 0 or 0xFFFFFFFF. A data chunk that claims
// more than the stream holds, or nothing, therefore runs to the end of the
// stream (an odd last byte dropped); everything else is audio.ReadWAV's.
func decodeWAV(b []byte) (audio.PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return audio.PCM{}, fmt.Errorf("%w: not a RIFF/WAVE stream", audio.ErrInvalidWAV)
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), binary.LittleEndian.Uint32(b[off+4:off+8])
		rest := uint64(len(b) - off - 8)
		if id == "data" {
			if size == 0 || uint64(size) > rest {
				fixed := bytes.Clone(b[:off+8+int(rest&^1)])
				binary.LittleEndian.PutUint32(fixed[off+4:], uint32(rest&^1))
				b = fixed
			}
			break
		}
		if uint64(size) > rest {
			break // audio.ReadWAV explains
		}
		off += 8 + int(size) + int(size&1)
	}
	return audio.ReadWAV(bytes.NewReader(b))
}
