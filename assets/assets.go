// Package assets holds what ships inside the captune binary or beside it: the application icon, and
// (under sample/) the bundled sample dataset and the small BLIP model that make the first run work
// without downloading anything.
package assets

import (
	_ "embed"
)

// Icon is the application icon (PNG, 256×256), also named in FyneApp.toml.
//
//go:embed icon.png
var Icon []byte
