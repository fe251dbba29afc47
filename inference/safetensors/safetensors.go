// Package safetensors reads and writes the safetensors format used by Hugging Face checkpoints:
// an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} with an
// optional "__metadata__" map of strings, then the raw little-endian tensor data.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/torchx"
)

// MaxHeaderSize bounds the JSON header; the reference implementation refuses headers over 100 MB.
const MaxHeaderSize = 100 << 20

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("invalid safetensors file")

// TensorInfo describes one tensor of a file. Begin and End are byte offsets into the data section.
type TensorInfo struct {
	Name       string
	DType      string
	Shape      []int64
	Begin, End int64
}

// File is an open safetensors file. Tensors are read on demand; Close releases the file.
type File struct {
	Path     string
	Metadata map[string]string
	infos    map[string]TensorInfo
	dataAt   int64
	f        *os.File
	mapping  *torchx.Mapping // set by OpenMapped
}

var dtypeSizes = map[string]int64{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// scalarTypes are libtorch's c10::ScalarType numbers, for tensors built over a mapping.
var scalarTypes = map[string]int{
	"U8": 0, "I8": 1, "I16": 2, "I32": 3, "I64": 4, "F16": 5, "F32": 6, "F64": 7, "BOOL": 11, "BF16": 15,
}

var dtypeGotch = map[string]gotch.DType{
	"F64": gotch.Double, "F32": gotch.Float, "F16": gotch.Half, "BF16": gotch.BFloat16,
	"I64": gotch.Int64, "I32": gotch.Int, "I16": gotch.Int16, "I8": gotch.Int8, "U8": gotch.Uint8, "BOOL": gotch.Bool,
}

// Open reads and validates the header of a safetensors file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := parse(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sf.Path = path
	sf.f = f
	return sf, nil
}

// OpenMapped is Open that also maps the file into memory (read-only use; the file is never written),
// so that Tensor builds tensors over the mapped bytes instead of reading them: loading then costs no
// copy and no read, and the weights' pages are shared with the page cache. The header is validated
// before the file is mapped, so a truncated or malformed file is refused without touching the
// mapping. The mapping outlives Close as long as any tensor built over it does (see torchx.Mapping).
//
// A file truncated by another program after it was mapped makes reads of the lost pages fault
// (SIGBUS): Captune itself never rewrites a weights file in place (WriteAtomic renames a new file
// over it, which leaves the mapped one intact).
func OpenMapped(path string) (*File, error) {
	sf, err := Open(path)
	if err != nil {
		return nil, err
	}
	st, err := sf.f.Stat()
	if err != nil {
		sf.Close()
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	m, err := torchx.MapFile(sf.f, st.Size())
	if err != nil {
		sf.Close()
		return nil, err
	}
	sf.mapping = m
	return sf, nil
}

// Mapped reports whether the file was opened with OpenMapped.
func (f *File) Mapped() bool { return f.mapping != nil }

// ParseHeader validates the header of a safetensors file held in r of the given total size.
// It is Open without the file, for tests and fuzzing.
func ParseHeader(r io.ReaderAt, size int64) (map[string]TensorInfo, map[string]string, error) {
	sf, err := parse(r, size)
	if err != nil {
		return nil, nil, err
	}
	return sf.infos, sf.Metadata, nil
}

func parse(r io.ReaderAt, size int64) (*File, error) {
	var lenBuf [8]byte
	if size < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrFormat, size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%w: header length: %v", ErrFormat, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrFormat, n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("%w: header length %d larger than the file (%d bytes)", ErrFormat, n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	sf := &File{infos: map[string]TensorInfo{}, dataAt: 8 + int64(n)}
	dataLen := size - sf.dataAt
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__: %v", ErrFormat, err)
			}
			continue
		}
		var e struct {
			DType   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		es, ok := dtypeSizes[e.DType]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrFormat, name, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] {
			return nil, fmt.Errorf("%w: tensor %q: bad data_offsets %v", ErrFormat, name, e.Offsets)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > (1<<62)/d) {
				return nil, fmt.Errorf("%w: tensor %q: bad shape %v", ErrFormat, name, e.Shape)
			}
			numel *= d
		}
		if want := numel * es; e.Offsets[1]-e.Offsets[0] != want {
			return nil, fmt.Errorf("%w: tensor %q: %d bytes for shape %v of %s, want %d", ErrFormat, name, e.Offsets[1]-e.Offsets[0], e.Shape, e.DType, want)
		}
		if e.Offsets[1] > dataLen {
			return nil, fmt.Errorf("%w: tensor %q: data offset %d past the end of the data (%d bytes)", ErrFormat, name, e.Offsets[1], dataLen)
		}
		sf.infos[name] = TensorInfo{Name: name, DType: e.DType, Shape: e.Shape, Begin: e.Offsets[0], End: e.Offsets[1]}
	}
	return sf, nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.infos))
	for n := range f.infos {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Info returns the description of a tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.infos[name]
	return i, ok
}

// Bytes reads the raw data of a tensor.
func (f *File) Bytes(name string) ([]byte, error) {
	info, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q not in %s", name, f.Path)
	}
	buf := make([]byte, info.End-info.Begin)
	if _, err := f.f.ReadAt(buf, f.dataAt+info.Begin); err != nil {
		return nil, fmt.Errorf("read tensor %q from %s: %w", name, f.Path, err)
	}
	return buf, nil
}

// Tensor reads a tensor onto the CPU in its stored dtype.
func (f *File) Tensor(name string) (*ts.Tensor, error) {
	info, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q not in %s", name, f.Path)
	}
	shape := info.Shape
	if shape == nil {
		shape = []int64{}
	}
	if f.mapping != nil && info.End > info.Begin {
		return f.mappedTensor(info, shape)
	}
	buf, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	if len(buf) == 0 {
		return ts.Zeros(shape, dtypeGotch[info.DType], gotch.CPU)
	}
	t, err := ts.OfDataSize(buf, shape, dtypeGotch[info.DType])
	if err != nil {
		return nil, fmt.Errorf("tensor %q from %s: %w", name, f.Path, err)
	}
	return t, nil
}

// mappedTensor builds a tensor over the mapped bytes when they are aligned to the element size,
// else copies them (the reference writer pads the header to 8 bytes, so a well-formed file is
// always aligned).
func (f *File) mappedTensor(info TensorInfo, shape []int64) (*ts.Tensor, error) {
	at := f.dataAt + info.Begin
	if at%dtypeSizes[info.DType] != 0 {
		t, err := ts.OfDataSize(f.mapping.Bytes(at, info.End-info.Begin), shape, dtypeGotch[info.DType])
		if err != nil {
			return nil, fmt.Errorf("tensor %q from %s: %w", info.Name, f.Path, err)
		}
		return t, nil
	}
	c, err := f.mapping.Tensor(at, shape, scalarTypes[info.DType])
	if err != nil {
		return nil, fmt.Errorf("tensor %q from %s: %w", info.Name, f.Path, err)
	}
	return ts.New(lib.Ctensor(c)), nil
}

// Close releases the file. Tensors built over a mapping stay valid: the mapping goes with the last
// of them.
func (f *File) Close() error {
	if f.mapping != nil {
		f.mapping.Release()
		f.mapping = nil
	}
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// Named is a tensor with the key it is stored under.
type Named struct {
	Name   string
	Tensor *ts.Tensor
}

// DTypeName returns the safetensors name of a gotch dtype.
func DTypeName(d gotch.DType) (string, error) {
	for k, v := range dtypeGotch {
		if v == d {
			return k, nil
		}
	}
	return "", fmt.Errorf("dtype %v has no safetensors name", d)
}

// Write stores tensors (any device, any layout) in a safetensors file, atomically: the data goes to a
// temporary file in the same folder, is synced, then renamed over path. Tensors are written in name
// order with 8-byte aligned header padding, as the reference writer does.
func Write(path string, tensors []Named, metadata map[string]string) error {
	sorted := append([]Named(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	cpu := make([]*ts.Tensor, len(sorted))
	sizes := make([]int, len(sorted))
	defer func() {
		for _, t := range cpu {
			if t != nil {
				t.MustDrop()
			}
		}
	}()
	for i, nt := range sorted {
		t, err := nt.Tensor.To(gotch.CPU, false)
		if err != nil {
			return fmt.Errorf("write %s: tensor %q to cpu: %w", path, nt.Name, err)
		}
		c, err := t.Contiguous(true)
		if err != nil {
			return fmt.Errorf("write %s: tensor %q: %w", path, nt.Name, err)
		}
		cpu[i] = c
		dn, err := DTypeName(c.DType())
		if err != nil {
			return fmt.Errorf("write %s: tensor %q: %w", path, nt.Name, err)
		}
		shape := c.MustSize()
		n := int64(c.Numel()) * dtypeSizes[dn]
		header[nt.Name] = map[string]any{"dtype": dn, "shape": shape, "data_offsets": []int64{off, off + n}}
		sizes[i] = int(n)
		off += n
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: header: %w", path, err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	return WriteAtomic(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		for i, c := range cpu {
			n := sizes[i]
			if n == 0 {
				continue
			}
			ptr, err := c.DataPtr()
			if err != nil {
				return err
			}
			if _, err := w.Write(unsafe.Slice((*byte)(ptr), n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteAtomic writes a file through fill into a temporary file beside path, syncs it and renames it
// over path, so that a crash or a full disk leaves either the old file or the new one, never a mix.
// The temporary file is named by package atomicfile, so a later run recognises and removes it if
// this process is killed. The file is 0644, as readable as one written with os.WriteFile.
func WriteAtomic(path string, fill func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, fill)
}
