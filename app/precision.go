package app

import (
	"fmt"
	"io"

	"github.com/captune/captune/inference"
)

// usePrecision sets a loaded captioner to --precision, or to fp32 with a note on stderr when its
// device has no fast bfloat16. Run it on the captioner's engine.
func (d decodeFlags) usePrecision(c *inference.Captioner, stderr io.Writer) error {
	p, err := inference.ParsePrecision(d.precision)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if err := inference.CheckPrecision(p, c.Model.Device); err != nil {
		fmt.Fprintf(stderr, "note: %v\n", err)
		p = inference.FP32
	}
	return c.Model.SetInferencePrecision(p)
}
