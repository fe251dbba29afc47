package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

//go:embed all:model
var modelFS embed.FS

//go:embed all:sample
var sampleFS embed.FS

// Model holds the bundled demo BLIP model under "model/" (Hugging Face layout).
var Model fs.FS = modelFS

// Sample holds the bundled sample dataset under "sample/": images with sidecar captions.
var Sample fs.FS = sampleFS

// Digest hashes every file under root, to name the unpacked copy of an embedded tree.
func Digest(fsys fs.FS, root string) (string, error) {
	h := sha256.New()
	var paths []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", err
		}
		h.Write([]byte(p))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
