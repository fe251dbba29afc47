package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/captune/captune/internal/libjpeg"
)

// TestDoctorSaysJPEGDecoder runs captune doctor as a user does and checks that it names the JPEG
// decoder: libjpeg-turbo, exact, and the library file loaded, or the fallback and what it costs.
func TestDoctorSaysJPEGDecoder(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"doctor"}, &out, &errb); code != 0 {
		t.Fatalf("doctor exited %d: %s%s", code, out.String(), errb.String())
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "jpeg ") {
			line = l
		}
	}
	want := []string{"Go image/jpeg", "fallback"}
	if libjpeg.Available {
		want = []string{"libjpeg-turbo", "as Pillow", "loaded from", "libjpeg.so.62"}
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("doctor's jpeg line %q does not say %q\n%s", line, w, out.String())
		}
	}
}
