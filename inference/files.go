package inference

import (
	"encoding/json"
	"io"

	"github.com/captune/captune/inference/safetensors"
)

// writeJSON writes v as indented JSON, atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
