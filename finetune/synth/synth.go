// Package synth generates Captune's bundled captioning domain: small images of coloured shapes on a
// light background with captions from a fixed grammar ("two small red circles above a blue square").
// Every sample is a pure function of (Config, index), so datasets are reproducible from a seed and can
// be generated in parallel. The "textures" variant adds words a model trained on "base" never saw
// (striped, dotted, checkered, star), which is what the bundled fine-tuning demo teaches it.
// The package uses only the standard library; it never imports Fyne or libtorch.
package synth

import (
	"fmt"
	"image"
	"math/rand/v2"
	"sort"
	"strings"
)

// Variant selects the vocabulary of the domain.
type Variant string

const (
	// VariantBase draws plain circles, squares and triangles.
	VariantBase Variant = "base"
	// VariantTextures adds striped, dotted and checkered shapes and the star: words absent from base.
	VariantTextures Variant = "textures"
)

// Image sizes accepted by Config. Below 32 pixels the small shapes are a handful of pixels wide;
// above 2048 the files stop being "small".
const (
	DefaultSize = 128
	MinSize     = 32
	MaxSize     = 2048
)

// Config fixes everything a sample depends on besides its index.
type Config struct {
	Variant Variant
	Seed    uint64
	Size    int // width and height in pixels; 0 means DefaultSize
}

// Validate reports a Config that Generate would have to correct.
func (c Config) Validate() error {
	if c.Variant != VariantBase && c.Variant != VariantTextures {
		return fmt.Errorf("variant %q: want %q or %q", c.Variant, VariantBase, VariantTextures)
	}
	if c.Size != 0 && (c.Size < MinSize || c.Size > MaxSize) {
		return fmt.Errorf("size %d: want %d to %d pixels", c.Size, MinSize, MaxSize)
	}
	return nil
}

// normalized is the Config Generate actually uses: Generate has no error result, so out-of-range
// values are clamped and an unknown variant falls back to base. WriteDataset and the CLI call
// Validate first, so users never see the fallback.
func (c Config) normalized() Config {
	if c.Variant != VariantTextures {
		c.Variant = VariantBase
	}
	switch {
	case c.Size == 0:
		c.Size = DefaultSize
	case c.Size < MinSize:
		c.Size = MinSize
	case c.Size > MaxSize:
		c.Size = MaxSize
	}
	return c
}

// Object is one drawn shape. Its geometric centre is the corner point Center (in pixel coordinates,
// so the pixel at Center always lies inside the shape) and it fits in the square of half-side Radius
// around that point.
type Object struct {
	Center image.Point
	Radius int
}

// Group is a phrase of a caption: Count identical objects.
type Group struct {
	Count   int
	Shape   string // circle, square, triangle, star
	Colour  string // red, green, blue, yellow
	Size    string // small, large, or "" for the unmentioned medium size
	Texture string // striped, dotted, checkered, or "" for plain
	Objects []Object
}

// Scene is what Generate drew, for tests and tools that check a caption against the pixels.
type Scene struct {
	Groups   []Group // one or two
	Relation string  // where Groups[0] is relative to Groups[1]: "above" or "left of"; "" with one group
	Caption  string
}

// The words of the grammar. The order of each list is part of the generator: reordering changes
// which sample a seed produces (the golden test notices).
var (
	colourWords   = []string{"red", "green", "blue", "yellow"}
	sizeWords     = []string{"small", "", "large"} // "" is the medium size, which captions leave unsaid
	baseShapes    = []string{"circle", "square", "triangle"}
	textureShapes = []string{"circle", "square", "triangle", "star"}
	textureWords  = []string{"", "striped", "dotted", "checkered"}    // "" is plain
	relationWords = []string{"above", "below", "left of", "right of"} // where the first drawn group goes
	countWords    = []string{"", "a", "two", "three"}
)

// captionRelations are the relations captions say: groups are named in reading order (see
// readingOrder), so "below" and "right of" are drawn but never said.
var captionRelations = []string{"above", "left of"}

// Radii as percentages of the image size, indexed like sizeWords. Large shapes still fit, with a
// margin, in the half-image cells that the two-group layouts use; small stars keep visible points at
// 64 pixels (radius 7).
var radiusPercent = []int{11, 16, 22}

// Generate returns the i-th sample of the domain described by cfg and its caption. The sample depends
// only on cfg and i, so any subset of indices can be generated in any order or in parallel.
func Generate(cfg Config, i int) (image.Image, string) {
	img, scene := GenerateScene(cfg, i)
	return img, scene.Caption
}

// GenerateScene is Generate that also reports what was drawn where. The image is paletted (see
// Palette), which keeps the PNG files a few kilobytes.
func GenerateScene(cfg Config, i int) (*image.Paletted, Scene) {
	cfg = cfg.normalized()
	// The variant salts the stream so base and textures datasets of one seed are unrelated (a model
	// trained on one is not evaluated on the other's layouts).
	salt := uint64(0)
	if cfg.Variant == VariantTextures {
		salt = 0x7465787475726573 // "textures"
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, mix(uint64(int64(i))^salt)))
	s := cfg.Size
	margin := max(1, s/50)

	shapes := baseShapes
	if cfg.Variant == VariantTextures {
		shapes = textureShapes
	}
	newGroup := func(count int) Group {
		g := Group{Count: count}
		g.Shape = shapes[rng.IntN(len(shapes))]
		g.Colour = colourWords[rng.IntN(len(colourWords))]
		g.Size = sizeWords[rng.IntN(len(sizeWords))]
		if cfg.Variant == VariantTextures {
			g.Texture = textureWords[rng.IntN(len(textureWords))]
		}
		return g
	}

	var scene Scene
	if rng.IntN(2) == 0 {
		g := newGroup(1 + rng.IntN(3))
		r := radius(s, g.Size)
		for _, cell := range singleGroupCells(rng, s, g.Count) {
			g.Objects = append(g.Objects, Object{Center: image.Pt(
				jitter(rng, cell.Min.X, cell.Max.X, r+margin),
				jitter(rng, cell.Min.Y, cell.Max.Y, r+margin)), Radius: r})
		}
		scene.Groups = []Group{g}
	} else {
		counts := [][2]int{{1, 1}, {2, 1}, {1, 2}}[rng.IntN(3)]
		a, b := newGroup(counts[0]), newGroup(counts[1])
		if a.Shape == b.Shape && a.Colour == b.Colour {
			// Two phrases that differ only in size or texture read like one group split in two;
			// give the second group another colour (drawn from the remaining three).
			k := indexOf(colourWords, a.Colour)
			b.Colour = colourWords[(k+1+rng.IntN(len(colourWords)-1))%len(colourWords)]
		}
		scene.Relation = relationWords[rng.IntN(len(relationWords))]
		// Half-image regions: a's region is on the side the relation names.
		top, bottom := image.Rect(0, 0, s, s/2), image.Rect(0, s/2, s, s)
		left, right := image.Rect(0, 0, s/2, s), image.Rect(s/2, 0, s, s)
		var ra, rb image.Rectangle
		switch scene.Relation {
		case "above":
			ra, rb = top, bottom
		case "below":
			ra, rb = bottom, top
		case "left of":
			ra, rb = left, right
		case "right of":
			ra, rb = right, left
		}
		vertical := scene.Relation == "above" || scene.Relation == "below"
		a.Objects = placeInHalf(rng, ra, vertical, a.Count, radius(s, a.Size), margin, s)
		b.Objects = placeInHalf(rng, rb, vertical, b.Count, radius(s, b.Size), margin, s)
		scene.Groups = []Group{a, b}
		readingOrder(&scene)
	}
	scene.Caption = caption(scene)
	return draw(s, scene), scene
}

// mix spreads consecutive indices over the PCG stream space (splitmix64's finaliser), so sample i and
// i+1 do not start from neighbouring generator states.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func radius(size int, sizeWord string) int {
	return size * radiusPercent[indexOf(sizeWords, sizeWord)] / 100
}

func indexOf(list []string, w string) int {
	for i, v := range list {
		if v == w {
			return i
		}
	}
	return -1
}

// jitter picks a centre coordinate in [lo, hi) that keeps a shape of half-extent ext inside.
func jitter(rng *rand.Rand, lo, hi, ext int) int {
	a, b := lo+ext, hi-ext
	if b <= a {
		return (lo + hi) / 2
	}
	return a + rng.IntN(b-a+1)
}

// singleGroupCells gives each object of a lone group its own cell: the whole image for one, two
// opposite halves or quadrants for two, three of the four quadrants for three.
func singleGroupCells(rng *rand.Rand, s, count int) []image.Rectangle {
	h, q, q3 := s/2, s/4, s-s/4
	quads := []image.Rectangle{image.Rect(0, 0, h, h), image.Rect(h, 0, s, h), image.Rect(0, h, h, s), image.Rect(h, h, s, s)}
	switch count {
	case 1:
		return []image.Rectangle{image.Rect(0, 0, s, s)}
	case 2:
		switch rng.IntN(4) {
		case 0: // side by side
			return []image.Rectangle{image.Rect(0, q, h, q3), image.Rect(h, q, s, q3)}
		case 1: // one over the other
			return []image.Rectangle{image.Rect(q, 0, q3, h), image.Rect(q, h, q3, s)}
		case 2:
			return []image.Rectangle{quads[0], quads[3]}
		default:
			return []image.Rectangle{quads[1], quads[2]}
		}
	default:
		skip := rng.IntN(4)
		cells := make([]image.Rectangle, 0, 3)
		for k, c := range quads {
			if k != skip {
				cells = append(cells, c)
			}
		}
		return cells
	}
}

// placeInHalf places count objects (1 or 2) in one half of the image. Along the relation's axis they
// move freely within the half; across it they stay within s/16 of fixed slots, so the offset between
// the two groups across the axis stays well below their offset along it and "above" never also
// looks like "left of".
func placeInHalf(rng *rand.Rand, half image.Rectangle, vertical bool, count, r, margin, s int) []Object {
	slots := []int{s / 2}
	if count == 2 {
		slots = []int{s / 4, s - s/4}
	}
	slotHalf := s / (2 * len(slots))
	spread := min(s/16, slotHalf-r-margin)
	objs := make([]Object, 0, count)
	for _, c := range slots {
		along := func(lo, hi int) int { return jitter(rng, lo, hi, r+margin) }
		across := c
		if spread > 0 {
			across = c - spread + rng.IntN(2*spread+1)
		}
		var p image.Point
		if vertical {
			p = image.Pt(across, along(half.Min.Y, half.Max.Y))
		} else {
			p = image.Pt(along(half.Min.X, half.Max.X), across)
		}
		objs = append(objs, Object{Center: p, Radius: r})
	}
	return objs
}

// readingOrder names the top or left group first. One image drawn as "a above b" could equally
// have been drawn as "b below a"; if the caption followed the draw, half of the two-group captions
// would be a coin toss no model could learn from the pixels. The groups sit in separate halves, so
// swapping them changes no pixel.
func readingOrder(sc *Scene) {
	switch sc.Relation {
	case "below":
		sc.Relation = "above"
	case "right of":
		sc.Relation = "left of"
	default:
		return
	}
	sc.Groups[0], sc.Groups[1] = sc.Groups[1], sc.Groups[0]
}

// caption renders the grammar:
//
//	caption  = phrase [relation phrase]
//	phrase   = ("a" | "two" | "three") [size] [texture] colour shape["s"]
//	relation = "above" | "left of"     (the first phrase is the top or left group)
func caption(sc Scene) string {
	parts := []string{phrase(sc.Groups[0])}
	if len(sc.Groups) == 2 {
		parts = append(parts, sc.Relation, phrase(sc.Groups[1]))
	}
	return strings.Join(parts, " ")
}

func phrase(g Group) string {
	words := []string{countWords[g.Count]}
	for _, w := range []string{g.Size, g.Texture, g.Colour} {
		if w != "" {
			words = append(words, w)
		}
	}
	noun := g.Shape
	if g.Count > 1 {
		noun += "s"
	}
	return strings.Join(append(words, noun), " ")
}

// Vocabulary lists, sorted, every word a caption of the variant can contain (nil for an unknown
// variant). A tokenizer built from it covers the domain.
func Vocabulary(v Variant) []string {
	var shapes []string
	var extra []string
	switch v {
	case VariantBase:
		shapes = baseShapes
	case VariantTextures:
		shapes = textureShapes
		extra = textureWords
	default:
		return nil
	}
	seen := map[string]bool{}
	add := func(ws ...string) {
		for _, w := range ws {
			for _, f := range strings.Fields(w) {
				seen[f] = true
			}
		}
	}
	add(countWords...)
	add(sizeWords...)
	add(colourWords...)
	add(captionRelations...)
	add(extra...)
	for _, s := range shapes {
		add(s, s+"s")
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}
