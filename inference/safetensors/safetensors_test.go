package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	a := ts.MustArange(ts.IntScalar(12), gotch.Float, gotch.CPU).MustView([]int64{3, 4}, true)
	defer a.MustDrop()
	b := a.MustTotype(gotch.BFloat16, false)
	defer b.MustDrop()
	c := ts.MustOfSlice([]int64{7, -1, 30522})
	defer c.MustDrop()
	// A transposed view: Write must store it contiguous.
	d := a.MustT(false)
	defer d.MustDrop()
	err := Write(path, []Named{{"w.float", a}, {"w.bf16", b}, {"ids", c}, {"w.t", d}}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := strings.Join(f.Names(), ","), "ids,w.bf16,w.float,w.t"; got != want {
		t.Errorf("Names() = %s, want %s", got, want)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	tests := []struct {
		name  string
		want  *ts.Tensor
		dtype string
	}{
		{"w.float", a, "F32"}, {"w.bf16", b, "BF16"}, {"ids", c, "I64"}, {"w.t", d, "F32"},
	}
	for _, tc := range tests {
		info, _ := f.Info(tc.name)
		if info.DType != tc.dtype {
			t.Errorf("%s: dtype %s, want %s", tc.name, info.DType, tc.dtype)
		}
		got, err := f.Tensor(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !got.MustEqual(tc.want, false) {
			t.Errorf("%s: read back %v, want %v", tc.name, got.Float64Values(), tc.want.Float64Values())
		}
		got.MustDrop()
	}
}

func header(t *testing.T, json string, dataLen int) []byte {
	t.Helper()
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(json)))
	buf.WriteString(json)
	buf.Write(make([]byte, dataLen))
	return buf.Bytes()
}

func TestBadFiles(t *testing.T) {
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, 1000)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"truncated header", header(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4)[:20], "larger than the file"},
		{"header length past end", append(big, []byte("{}")...), "header length 1000 larger than the file"},
		{"offset past end", header(t, `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), "past the end of the data"},
		{"unknown dtype", header(t, `{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, 4), `unknown dtype "F7"`},
		{"size mismatch", header(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "want 8"},
		{"not json", header(t, `{"a":`, 4), "header JSON"},
		{"negative shape", header(t, `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "bad shape"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseHeader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrFormat containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.safetensors"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(header(&testing.T{}, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseHeader(bytes.NewReader(data), int64(len(data)))
	})
}
