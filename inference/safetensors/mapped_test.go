package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/torchx"
)

// TestOpenMappedReadsWhatOpenReads: every dtype comes back equal through the mapping, fp32 without
// a copy, and the mapping outlives Close until the last tensor over it is dropped.
func TestOpenMappedReadsWhatOpenReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	a := ts.MustArange(ts.IntScalar(12), gotch.Float, gotch.CPU).MustView([]int64{3, 4}, true)
	defer a.MustDrop()
	b := a.MustTotype(gotch.BFloat16, false)
	defer b.MustDrop()
	c := ts.MustOfSlice([]int64{7, -1, 30522})
	defer c.MustDrop()
	u := ts.MustOfSlice([]uint8{1, 2, 3})
	defer u.MustDrop()
	if err := Write(path, []Named{{"a", a}, {"b", b}, {"c", c}, {"u", u}}, nil); err != nil {
		t.Fatal(err)
	}
	before := torchx.LiveMappings()
	f, err := OpenMapped(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Mapped() || torchx.LiveMappings() != before+1 {
		t.Fatalf("Mapped() = %v, live mappings %d, want %d", f.Mapped(), torchx.LiveMappings(), before+1)
	}
	var got []*ts.Tensor
	for _, tc := range []struct {
		name string
		want *ts.Tensor
	}{{"a", a}, {"b", b}, {"c", c}, {"u", u}} {
		x, err := f.Tensor(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !x.MustEqual(tc.want, false) {
			t.Errorf("%s: %v, want %v", tc.name, x.Float64Values(), tc.want.Float64Values())
		}
		if !torchx.SharesMapping(x.Ctensor()) {
			t.Errorf("%s: copied, want built over the mapping", tc.name)
		}
		got = append(got, x)
	}
	f.Close()
	if torchx.LiveMappings() != before+1 {
		t.Errorf("after Close with tensors alive: %d live mappings, want %d", torchx.LiveMappings(), before+1)
	}
	if v := got[0].Float64Values(); v[11] != 11 {
		t.Errorf("after Close: a[11] = %v, want 11", v[11])
	}
	for _, x := range got {
		x.MustDrop()
	}
	if torchx.LiveMappings() != before {
		t.Errorf("after the last tensor: %d live mappings, want %d", torchx.LiveMappings(), before)
	}
}

func TestOpenMappedRefusesBadFilesBeforeMapping(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	x := ts.MustOnes([]int64{64, 64}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	if err := Write(good, []Named{{"x", x}}, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated in the data", data[:len(data)-1]},
		{"truncated in the header", data[:20]},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.safetensors")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			before := torchx.LiveMappings()
			f, err := OpenMapped(path)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("OpenMapped = %v, want ErrFormat", err)
			}
			if got := torchx.LiveMappings(); got != before {
				t.Errorf("%d live mappings, want %d", got, before)
			}
		})
	}
}
