package finetune

import (
	"math"
	"testing"
)

// The disk dtypes round as torch's .half() and .bfloat16() do (bits from torch 2.1).
func TestFeatureDTypeRounding(t *testing.T) {
	for _, tc := range []struct {
		v          float32
		fp16, bf16 uint16
	}{
		{0, 0x0000, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3c00, 0x3f80},
		{-2.5, 0xc100, 0xc020},
		{65504, 0x7bff, 0x4780},
		{65520, 0x7c00, 0x4780}, // past fp16's largest: infinity
		{1e-8, 0x0000, 0x322c},
		{6.103515625e-05, 0x0400, 0x3880},       // fp16's smallest normal
		{5.960464477539063e-08, 0x0001, 0x3380}, // its smallest subnormal
		{1.00048828125, 0x3c00, 0x3f80},         // a tie: to even
		{1.00146484375, 0x3c02, 0x3f80},         // a tie: to even, upwards
		{0.1, 0x2e66, 0x3dcd},
		{-3.14159, 0xc248, 0xc049},
		{1e5, 0x7c00, 0x47c3},
		{2.9802322387695312e-08, 0x0000, 0x3300}, // half the smallest subnormal: to even (zero)
		{4.470348358154297e-08, 0x0001, 0x3340},
	} {
		if got := f32ToF16(tc.v); got != tc.fp16 {
			t.Errorf("fp16(%g) = %#04x, want %#04x", tc.v, got, tc.fp16)
		}
		if got := f32ToBF16(tc.v); got != tc.bf16 {
			t.Errorf("bf16(%g) = %#04x, want %#04x", tc.v, got, tc.bf16)
		}
	}
}

// What encode writes, decode reads back: exactly in fp32, and as round says in fp16 and bf16.
func TestFeatureDTypeRoundTrip(t *testing.T) {
	vals := []float32{0, 1, -1, 0.333333, 1234.5678, -7.25e-3, 6e-6, 3.0e4}
	for _, d := range []featureDType{featFP32, featFP16, featBF16} {
		got, err := d.decode(d.encode(vals), len(vals))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		want := d.round(vals)
		for i := range vals {
			if got[i] != want[i] {
				t.Errorf("%s: value %d read back %g, want %g", d, i, got[i], want[i])
			}
			if d == featFP32 && got[i] != vals[i] {
				t.Errorf("fp32 is not exact: %g read back as %g", vals[i], got[i])
			}
			if rel := math.Abs(float64(got[i]-vals[i])) / max(math.Abs(float64(vals[i])), 1e-4); rel > 1.0/128 {
				t.Errorf("%s: %g read back as %g (relative error %.2g)", d, vals[i], got[i], rel)
			}
		}
		if _, err := d.decode(d.encode(vals)[1:], len(vals)); err == nil {
			t.Errorf("%s: a payload cut short decodes", d)
		}
	}
}
