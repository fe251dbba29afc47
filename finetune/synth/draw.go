package synth

import (
	"image"
	"image/color"
	"math"
)

// Palette is the fixed palette of every generated image: index 0 is the background, 1 to 4 the
// colours in the order red, green, blue, yellow, and 5 to 8 their darker shades, used only for
// textures. Flat colours without anti-aliasing keep the pixels exact, so a test can read back what was
// drawn, and the PNG files small.
var Palette = color.Palette{
	color.RGBA{246, 244, 238, 255}, // light background
	color.RGBA{214, 39, 40, 255},   // red
	color.RGBA{44, 160, 44, 255},   // green
	color.RGBA{31, 96, 214, 255},   // blue
	color.RGBA{240, 200, 20, 255},  // yellow
	color.RGBA{110, 18, 18, 255},   // dark red
	color.RGBA{18, 82, 22, 255},    // dark green
	color.RGBA{14, 44, 112, 255},   // dark blue
	color.RGBA{128, 100, 6, 255},   // dark yellow
}

// shadeOffset is the distance in Palette between a colour and its texture shade.
const shadeOffset = 4

// Unit outlines of the polygon shapes in thousandths of the radius, y pointing down. Rasterising
// against integers keeps every platform's pixels identical (no floating-point rounding at edges).
var (
	triangleOutline = [][2]int64{{0, -1000}, {1000, 1000}, {-1000, 1000}}
	starOutline     = starPoints(1000, 450)
)

// starPoints computes a five-pointed star once and rounds it to integers; rounding a value that is
// never near .5 gives the same table everywhere. It is moved down so its box is centred on the origin.
func starPoints(outer, inner float64) [][2]int64 {
	top, bottom := -outer, outer*math.Cos(math.Pi/5)
	shift := -(top + bottom) / 2
	pts := make([][2]int64, 10)
	for k := range pts {
		r := outer
		if k%2 == 1 {
			r = inner
		}
		a := -math.Pi/2 + float64(k)*math.Pi/5
		pts[k] = [2]int64{int64(math.Round(r * math.Cos(a))), int64(math.Round(r*math.Sin(a) + shift))}
	}
	return pts
}

func draw(size int, sc Scene) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, size, size), Palette)
	// NewPaletted starts at index 0, the background.
	for _, g := range sc.Groups {
		base := uint8(1 + indexOf(colourWords, g.Colour))
		for _, o := range g.Objects {
			drawObject(img, g.Shape, g.Texture, o, base)
		}
	}
	return img
}

func drawObject(img *image.Paletted, shape, texture string, o Object, base uint8) {
	r := o.Radius
	period := max(4, (2*r/3)&^1) // texture period in pixels, even, proportional to the shape
	box := image.Rect(o.Center.X-r, o.Center.Y-r, o.Center.X+r, o.Center.Y+r).Intersect(img.Rect)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			// Pixel centre relative to the shape centre, in half pixels (odd numbers).
			dx, dy := int64(2*(x-o.Center.X)+1), int64(2*(y-o.Center.Y)+1)
			if !inside(shape, dx, dy, int64(2*r)) {
				continue
			}
			idx := base
			if onTexture(texture, x-(o.Center.X-r), y-(o.Center.Y-r), period) {
				idx += shadeOffset
			}
			img.SetColorIndex(x, y, idx)
		}
	}
}

// inside reports whether the point (dx, dy) lies in the shape of half-extent R (all in half pixels).
func inside(shape string, dx, dy, R int64) bool {
	switch shape {
	case "circle":
		return dx*dx+dy*dy <= R*R
	case "square":
		return dx > -R && dx < R && dy > -R && dy < R
	case "triangle":
		return insidePolygon(triangleOutline, dx*1000, dy*1000, R)
	case "star":
		return insidePolygon(starOutline, dx*1000, dy*1000, R)
	}
	return false
}

// insidePolygon is the even-odd crossing test for (px, py) against the outline scaled by R/1000.
func insidePolygon(outline [][2]int64, px, py, R int64) bool {
	in := false
	n := len(outline)
	for i := range n {
		ax, ay := outline[i][0]*R, outline[i][1]*R
		bx, by := outline[(i+1)%n][0]*R, outline[(i+1)%n][1]*R
		if (ay > py) == (by > py) {
			continue
		}
		// Is px left of the edge's crossing at height py? Cross-multiplied, sign-corrected.
		lhs, rhs := (px-ax)*(by-ay), (py-ay)*(bx-ax)
		if (by > ay && lhs < rhs) || (by < ay && lhs > rhs) {
			in = !in
		}
	}
	return in
}

// onTexture reports whether the pixel (x, y), counted from the shape's box corner, takes the shade.
func onTexture(texture string, x, y, period int) bool {
	switch texture {
	case "striped": // diagonal bands, half the period wide
		return (x+y)%period < period/2
	case "dotted": // a round dot in the middle of each period-sized cell
		cx, cy := 2*(x%period)+1-period, 2*(y%period)+1-period
		return 100*(cx*cx+cy*cy) <= 49*period*period // dot diameter 0.7 period
	case "checkered":
		half := period / 2
		return (x/half+y/half)%2 == 1
	}
	return false
}
