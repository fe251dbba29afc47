package finetune

import (
	"encoding/binary"
	"fmt"
	"math"
)

// featureDType is how a feature cache entry on disk stores its values.
type featureDType string

const (
	featFP16 featureDType = "fp16"
	featBF16 featureDType = "bf16"
	featFP32 featureDType = "fp32"
)

func parseFeatureDType(s string) featureDType {
	if s == "" {
		return featFP16
	}
	return featureDType(s)
}

func (d featureDType) size() int {
	if d == featFP32 {
		return 4
	}
	return 2
}

// encode writes vals in dtype d, little endian, rounding to nearest even as torch's .half() and
// .bfloat16() do.
func (d featureDType) encode(vals []float32) []byte {
	out := make([]byte, len(vals)*d.size())
	for i, v := range vals {
		switch d {
		case featFP32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		case featBF16:
			binary.LittleEndian.PutUint16(out[2*i:], f32ToBF16(v))
		default:
			binary.LittleEndian.PutUint16(out[2*i:], f32ToF16(v))
		}
	}
	return out
}

// decode reads n values written by encode.
func (d featureDType) decode(b []byte, n int) ([]float32, error) {
	if len(b) != n*d.size() {
		return nil, fmt.Errorf("%d bytes of %s data, want %d", len(b), d, n*d.size())
	}
	out := make([]float32, n)
	for i := range out {
		switch d {
		case featFP32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		case featBF16:
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		default:
			out[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return out, nil
}

// round returns vals as they read back after encode, so that an entry's first use (just encoded)
// sees the same values as its later ones (read from disk).
func (d featureDType) round(vals []float32) []float32 {
	if d == featFP32 {
		return vals
	}
	out, _ := d.decode(d.encode(vals), len(vals))
	return out
}

func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40 // a quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	e := int(b>>23) & 0xff
	mant := b & 0x7fffff
	exp := e - 127 + 15
	switch {
	case e == 0xff && mant != 0:
		return sign | 0x7e00
	case e == 0xff || exp >= 0x1f:
		return sign | 0x7c00 // infinity, or too large for fp16
	case exp <= 0: // a subnormal fp16, or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		r, rem, half := mant>>shift, mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is still the right value (up to infinity)
	}
	return sign | uint16(r)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
