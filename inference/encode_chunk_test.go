package inference

import (
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// TestEncodeChunkedIsEncode: captioning encodes a batch encodeChunk images at a time (less peak
// memory); the image tokens are those of one pass over the whole batch.
func TestEncodeChunkedIsEncode(t *testing.T) {
	m := loadTestModel(t, "tiny-a")
	_, f := loadParity(t, "tiny-a")
	pv := tensorOf(t, f, "pixel_values") // 4 images > encodeChunk
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	s := tx.NewScope()
	defer s.Free()
	whole, chunked := s.Keep(m.encode(s, pv)).TS(), s.Keep(m.encodeChunked(s, pv)).TS()
	defer whole.MustDrop()
	defer chunked.MustDrop()
	if d := maxAbsDiff(whole, chunked); d > 1e-6 {
		t.Errorf("chunked encoding differs by %g", d)
	}
}
