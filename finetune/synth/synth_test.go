package synth

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from the current generator")

// goldenConfigs cover both variants, the default size, a small size and an odd one.
var goldenConfigs = []struct {
	cfg Config
	n   int
}{
	{Config{Variant: VariantBase, Seed: 1}, 8},
	{Config{Variant: VariantBase, Seed: 20240607, Size: 64}, 6},
	{Config{Variant: VariantTextures, Seed: 1}, 8},
	{Config{Variant: VariantTextures, Seed: 99, Size: 97}, 6},
}

// TestGolden pins the exact output: a changed hash means every dataset made from a seed changed,
// which must be a deliberate decision (rerun with -update and say so in the commit). The pixel hash
// tells a generator change from a change of Go's PNG encoder.
func TestGolden(t *testing.T) {
	var b strings.Builder
	for _, g := range goldenConfigs {
		for i := range g.n {
			img, sc := GenerateScene(g.cfg, i)
			data, err := EncodePNG(img)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s seed=%d size=%d i=%d png=%x pix=%x %q\n", g.cfg.Variant, g.cfg.Seed, g.cfg.normalized().Size, i,
				sha256.Sum256(data), sha256.Sum256(img.Pix), sc.Caption)
		}
	}
	got := b.String()
	path := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	if len(wl) != len(gl) {
		t.Fatalf("golden has %d lines, generator gave %d", len(wl), len(gl))
	}
	for k := range wl {
		if wl[k] != gl[k] {
			t.Errorf("line %d:\nwant %s\ngot  %s", k+1, wl[k], gl[k])
		}
	}
}

// TestRepeatable generates the same samples twice, in different orders, and compares pixels.
func TestRepeatable(t *testing.T) {
	cfg := Config{Variant: VariantTextures, Seed: 5, Size: 64}
	first := map[int]string{}
	for i := range 20 {
		img, c := GenerateScene(cfg, i)
		first[i] = fmt.Sprintf("%x %s", sha256.Sum256(img.Pix), c.Caption)
	}
	for i := 19; i >= 0; i-- {
		img, c := GenerateScene(cfg, i)
		if got := fmt.Sprintf("%x %s", sha256.Sum256(img.Pix), c.Caption); got != first[i] {
			t.Errorf("sample %d changed on the second call: %s, then %s", i, first[i], got)
		}
	}
	other, _ := Generate(Config{Variant: VariantTextures, Seed: 6, Size: 64}, 0)
	if same, _ := Generate(cfg, 0); slices.Equal(other.(*image.Paletted).Pix, same.(*image.Paletted).Pix) {
		t.Error("seeds 5 and 6 drew the same first image")
	}
}

// parsedGroup is one phrase read back from a caption by the test's own parser.
type parsedGroup struct {
	count                        int
	size, texture, colour, shape string
}

// parseCaption is an independent reader of the grammar; it refuses anything outside it.
func parseCaption(c string, v Variant) (groups []parsedGroup, relation string, err error) {
	words := strings.Fields(c)
	pos := 0
	next := func() string {
		if pos < len(words) {
			pos++
			return words[pos-1]
		}
		return ""
	}
	peek := func() string {
		if pos < len(words) {
			return words[pos]
		}
		return ""
	}
	isOneOf := func(w string, set ...string) bool { return slices.Contains(set, w) }
	parsePhrase := func() (parsedGroup, error) {
		var g parsedGroup
		switch w := next(); w {
		case "a":
			g.count = 1
		case "two":
			g.count = 2
		case "three":
			g.count = 3
		default:
			return g, fmt.Errorf("want a count at word %d, got %q", pos, w)
		}
		if isOneOf(peek(), "small", "large") {
			g.size = next()
		}
		if v == VariantTextures && isOneOf(peek(), "striped", "dotted", "checkered") {
			g.texture = next()
		}
		if g.colour = next(); !isOneOf(g.colour, "red", "green", "blue", "yellow") {
			return g, fmt.Errorf("want a colour at word %d, got %q", pos, g.colour)
		}
		noun := next()
		if g.count > 1 {
			if !strings.HasSuffix(noun, "s") {
				return g, fmt.Errorf("count %d with singular %q", g.count, noun)
			}
			noun = strings.TrimSuffix(noun, "s")
		}
		shapes := []string{"circle", "square", "triangle"}
		if v == VariantTextures {
			shapes = append(shapes, "star")
		}
		if g.shape = noun; !isOneOf(noun, shapes...) {
			return g, fmt.Errorf("want a shape at word %d, got %q", pos, noun)
		}
		return g, nil
	}
	g, err := parsePhrase()
	if err != nil {
		return nil, "", err
	}
	groups = append(groups, g)
	if pos == len(words) {
		return groups, "", nil
	}
	switch w := next(); w {
	case "above", "below":
		relation = w
	case "left", "right":
		if of := next(); of != "of" {
			return nil, "", fmt.Errorf("want %q after %q, got %q", "of", w, of)
		}
		relation = w + " of"
	default:
		return nil, "", fmt.Errorf("want a relation at word %d, got %q", pos, w)
	}
	if g, err = parsePhrase(); err != nil {
		return nil, "", err
	}
	groups = append(groups, g)
	if pos != len(words) {
		return nil, "", fmt.Errorf("trailing words %q", words[pos:])
	}
	return groups, relation, nil
}

// blob is a connected region of non-background pixels.
type blob struct {
	box       image.Rectangle
	pixels    int
	shade     int // pixels in a texture shade
	colourIdx map[uint8]bool
}

// blobs labels the 8-connected non-background regions; label[y*w+x] is a blob index + 1.
func blobs(img *image.Paletted) ([]blob, []int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	label := make([]int, w*h)
	var out []blob
	for start := range label {
		if img.Pix[start] == 0 || label[start] != 0 {
			continue
		}
		bl := blob{colourIdx: map[uint8]bool{}} // Union with an empty box starts at the first pixel
		id := len(out) + 1
		stack := []int{start}
		label[start] = id
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := p%w, p/w
			bl.box = bl.box.Union(image.Rect(x, y, x+1, y+1))
			bl.pixels++
			bl.colourIdx[img.Pix[p]] = true
			if img.Pix[p] > shadeOffset {
				bl.shade++
			}
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					q := ny*w + nx
					if img.Pix[q] != 0 && label[q] == 0 {
						label[q] = id
						stack = append(stack, q)
					}
				}
			}
		}
		out = append(out, bl)
	}
	return out, label
}

// shapeFromPixels names a shape by how much of its bounding square it covers (square 1, circle π/4,
// triangle 1/2, star about 1/3), and tells triangle from star, which blur together at small sizes, by
// where the widest row is: a triangle's at its base, a star's at its arms, above the middle.
func shapeFromPixels(img *image.Paletted, bl blob) string {
	side := max(bl.box.Dx(), bl.box.Dy())
	fill := float64(bl.pixels) / float64(side*side)
	switch {
	case fill > 0.9:
		return "square"
	case fill > 0.65:
		return "circle"
	}
	widest, widestY := 0, 0
	for y := bl.box.Min.Y; y < bl.box.Max.Y; y++ {
		n := 0
		for x := bl.box.Min.X; x < bl.box.Max.X; x++ {
			if img.ColorIndexAt(x, y) != 0 {
				n++
			}
		}
		if n > widest {
			widest, widestY = n, y
		}
	}
	if widestY >= bl.box.Max.Y-bl.box.Dy()/4 {
		return "triangle"
	}
	return "star"
}

// sizeFromExtent names the size whose radius is nearest the blob's measured half-extent. A star's
// points reach only about 0.93 of its radius (its box is centred), so its extent is scaled back.
func sizeFromExtent(bl blob, shape string, imgSize int) string {
	half := float64(max(bl.box.Dx(), bl.box.Dy())) / 2
	if shape == "star" {
		half /= 0.93
	}
	best, bestD := "", 1e9
	for k, w := range sizeWords {
		r := float64(imgSize * radiusPercent[k] / 100)
		if d := abs(half - r); d < bestD {
			best, bestD = w, d
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestCaptionsMatchPixels parses every caption back and checks each claim against the drawn pixels:
// the number of separate shapes, and for each one its colour (at the reported centre), shape (fill of
// its box), size (extent), texture (shade pixels present or not) and the relation between groups.
func TestCaptionsMatchPixels(t *testing.T) {
	for _, v := range []Variant{VariantBase, VariantTextures} {
		for _, size := range []int{128, 64} {
			t.Run(fmt.Sprintf("%s/%d", v, size), func(t *testing.T) {
				cfg := Config{Variant: v, Seed: 11, Size: size}
				for i := range 400 {
					img, sc := GenerateScene(cfg, i)
					if msg := checkSample(img, sc, v, size); msg != "" {
						t.Errorf("sample %d %q: %s", i, sc.Caption, msg)
					}
				}
			})
		}
	}
}

func checkSample(img *image.Paletted, sc Scene, v Variant, size int) string {
	groups, relation, err := parseCaption(sc.Caption, v)
	if err != nil {
		return "parse: " + err.Error()
	}
	if len(groups) != len(sc.Groups) || relation != sc.Relation {
		return fmt.Sprintf("parsed %d groups, relation %q; scene has %d, %q", len(groups), relation, len(sc.Groups), sc.Relation)
	}
	all, label := blobs(img)
	total := 0
	for _, g := range groups {
		total += g.count
	}
	if len(all) != total {
		return fmt.Sprintf("caption counts %d shapes, image has %d separate regions", total, len(all))
	}
	var centres [2]struct{ x, y float64 }
	var extent [2]image.Rectangle
	for k, g := range groups {
		sg := sc.Groups[k]
		if len(sg.Objects) != g.count {
			return fmt.Sprintf("group %d: caption says %d, scene drew %d", k, g.count, len(sg.Objects))
		}
		base := uint8(1 + slices.Index([]string{"red", "green", "blue", "yellow"}, g.colour))
		for _, o := range sg.Objects {
			c := img.ColorIndexAt(o.Center.X, o.Center.Y)
			if c != base && c != base+shadeOffset {
				return fmt.Sprintf("group %d: pixel at centre %v has palette index %d, want %s (%d or %d)", k, o.Center, c, g.colour, base, base+shadeOffset)
			}
			bl := all[label[o.Center.Y*size+o.Center.X]-1]
			for idx := range bl.colourIdx {
				if idx != base && idx != base+shadeOffset {
					return fmt.Sprintf("group %d: shape at %v also holds palette index %d", k, o.Center, idx)
				}
			}
			if got := shapeFromPixels(img, bl); got != g.shape {
				return fmt.Sprintf("group %d: shape at %v looks like a %s (fill %d px in %v)", k, o.Center, got, bl.pixels, bl.box)
			}
			if got := sizeFromExtent(bl, g.shape, size); got != g.size {
				return fmt.Sprintf("group %d: shape at %v measures as size %q (box %v), caption says %q", k, o.Center, got, bl.box, g.size)
			}
			frac := float64(bl.shade) / float64(bl.pixels)
			if g.texture == "" && bl.shade != 0 || g.texture != "" && (frac < 0.15 || frac > 0.85) {
				return fmt.Sprintf("group %d: shape at %v has %.2f of its pixels shaded, caption texture %q", k, o.Center, frac, g.texture)
			}
			centres[k].x += float64(bl.box.Min.X+bl.box.Max.X) / 2 / float64(g.count)
			centres[k].y += float64(bl.box.Min.Y+bl.box.Max.Y) / 2 / float64(g.count)
			extent[k] = extent[k].Union(bl.box)
		}
	}
	if relation == "" {
		return ""
	}
	a, b := extent[0], extent[1]
	dx, dy := centres[0].x-centres[1].x, centres[0].y-centres[1].y
	var separated bool
	var along, across float64
	switch relation {
	case "above":
		separated, along, across = a.Max.Y <= b.Min.Y, -dy, dx
	case "below":
		separated, along, across = b.Max.Y <= a.Min.Y, dy, dx
	case "left of":
		separated, along, across = a.Max.X <= b.Min.X, -dx, dy
	case "right of":
		separated, along, across = b.Max.X <= a.Min.X, dx, dy
	}
	if !separated || along <= 1.5*abs(across) {
		return fmt.Sprintf("groups at %v and %v (centre offset %.1f, %.1f) are not clearly %q", a, b, dx, dy, relation)
	}
	return ""
}

// TestVocabulary checks that Vocabulary is exactly the set of words captions use, and that the
// textures variant only adds words.
func TestVocabulary(t *testing.T) {
	for _, v := range []Variant{VariantBase, VariantTextures} {
		seen := map[string]bool{}
		for i := range 2000 {
			_, c := Generate(Config{Variant: v, Seed: 3, Size: 32}, i)
			for _, w := range strings.Fields(c) {
				seen[w] = true
			}
		}
		var used []string
		for w := range seen {
			used = append(used, w)
		}
		slices.Sort(used)
		if got := Vocabulary(v); !slices.Equal(got, used) {
			t.Errorf("%s: Vocabulary = %q\n2000 captions used %q", v, got, used)
		}
	}
	base, tex := Vocabulary(VariantBase), Vocabulary(VariantTextures)
	var added []string
	for _, w := range tex {
		if !slices.Contains(base, w) {
			added = append(added, w)
		}
	}
	for _, w := range base {
		if !slices.Contains(tex, w) {
			t.Errorf("textures variant lacks base word %q", w)
		}
	}
	if want := []string{"checkered", "dotted", "star", "stars", "striped"}; !slices.Equal(added, want) {
		t.Errorf("textures adds %q, want %q", added, want)
	}
	if Vocabulary("plaid") != nil {
		t.Error("Vocabulary of an unknown variant is not nil")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Variant: VariantBase}, ""},
		{Config{Variant: VariantTextures, Size: MinSize}, ""},
		{Config{Variant: VariantTextures, Size: MaxSize}, ""},
		{Config{Variant: "plaid"}, `variant "plaid"`},
		{Config{Variant: ""}, `variant ""`},
		{Config{Variant: VariantBase, Size: MinSize - 1}, "size 31"},
		{Config{Variant: VariantBase, Size: -5}, "size -5"},
		{Config{Variant: VariantBase, Size: MaxSize + 1}, "size 2049"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: Validate() = %v, want error containing %q", tt.cfg, err, tt.wantErr)
		}
	}
	// Generate has no error result: out-of-range sizes are clamped rather than drawn off the image.
	for _, s := range []int{-1, 1, MaxSize + 100} {
		img, _ := Generate(Config{Variant: VariantBase, Size: s}, 0)
		if d := img.Bounds().Dx(); d < MinSize || d > MaxSize {
			t.Errorf("size %d: image is %d pixels wide", s, d)
		}
	}
}
