//go:build !cgo || noturbojpeg

package libjpeg

// Available reports whether this build decodes JPEG with libjpeg-turbo.
const Available = false

// Version names the JPEG library this build was compiled against: none.
func Version() string { return "" }

// Decode returns ErrUnavailable: this build has no libjpeg-turbo.
func Decode(data []byte, opt Options) (Image, Header, error) {
	return Image{}, Header{}, ErrUnavailable
}
