package encoders

import (
	"fmt"
	"math"
	"slices"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// FrameView is frame_dct_v1's descriptor of one part of a frame: what a
// copy query compares when the copy shows the original somewhere inside
// its frame (over a reframe's fill, between bars, as a picture in
// picture).
type FrameView struct {
	// Kind says what the box is: ViewContent (found in this frame, so it
	// may move a little from frame to frame), ViewAspect or ViewWindow
	// (fixed boxes, the same in every frame of every video).
	Kind string
	Box  Box
	// Cell is the grid window a ViewWindow was found from (its Box is
	// snapped to the picture's edges, which move a little from frame to
	// frame); the Box itself for other kinds.
	Cell   Box
	Vector []float32
}

// The kinds of FrameView.
const (
	ViewContent = "content"
	ViewAspect  = "aspect"
	ViewWindow  = "window"
)

// Box is a rectangle of a frame in fractions of its width and height,
// from the top left.
type Box struct{ X, Y, W, H float64 }

// Whole is the whole frame.
var Whole = Box{0, 0, 1, 1}

// pipSizes are the picture-in-picture sizes looked for, as fractions of
// the frame's sides (the original at 40–60 % of the frame), and pipStep
// the grid the windows move on, in fractions of the frame.
var pipSizes = []float64{0.4, 0.5, 0.6}

const pipStep = 0.05

// Views describes the parts of a grey frame (w×h, row-major) where a copy
// may show the original: the content inside bars or a blurred fill
// (ContentBox), the centred picture of each common aspect ratio (a 16:9
// video reframed into 9:16 or the reverse), and the pictures in picture
// it shows (windows of 40–60 % of the frame on a 5 % grid, kept where the
// frame shows a pasted picture's edges: insertedPicture). The whole frame
// is not among them: it is the frame's own frame_dct_v1 vector.
func (e *FrameDCT) Views(grey []byte, w, h int) ([]FrameView, error) {
	if w < 16 || h < 16 || len(grey) != w*h {
		return nil, &Error{Model: SpaceFrameDCT, Op: "views", Err: fmt.Errorf("want a grey frame of at least 16×16, got %d bytes for %d×%d", len(grey), w, h)}
	}
	sum := integral(grey, w, h)
	var boxes, cells []Box
	var kinds []string
	if b := ContentBox(grey, w, h); b != Whole {
		boxes, kinds, cells = append(boxes, b), append(kinds, ViewContent), append(cells, b)
	}
	// The picture of another aspect ratio centred in this frame: full
	// width in a taller frame, full height in a wider one.
	frame := float64(w) / float64(h)
	for _, aspect := range []float64{16.0 / 9, 4.0 / 3, 1, 3.0 / 4, 9.0 / 16} {
		switch {
		case aspect > frame*1.05:
			hh := frame / aspect
			b := Box{0, (1 - hh) / 2, 1, hh}
			boxes, kinds, cells = append(boxes, b), append(kinds, ViewAspect), append(cells, b)
		case aspect < frame/1.05:
			ww := aspect / frame
			b := Box{(1 - ww) / 2, 0, ww, 1}
			boxes, kinds, cells = append(boxes, b), append(kinds, ViewAspect), append(cells, b)
		}
	}
	// Picture-in-picture: a window of the grid counts only where the
	// frame shows the inserted picture's edges along its sides (within
	// half a grid step), and is then snapped to them. Comparing every
	// window of every frame finds some part of any smooth picture that
	// looks like some part of another: hundreds of tries, false copies.
	seen := map[Box]bool{}
	for _, s := range pipSizes {
		n := int(math.Round((1-s)/pipStep)) + 1
		for i := range n {
			for j := range n {
				cell := Box{float64(j) * pipStep, float64(i) * pipStep, s, s}
				b, ok := insertedPicture(grey, w, h, cell)
				if ok && !seen[b] {
					seen[b] = true
					boxes, kinds, cells = append(boxes, b), append(kinds, ViewWindow), append(cells, cell)
				}
			}
		}
	}
	views := make([]FrameView, 0, len(boxes))
	small := make([]byte, FrameDCTInput*FrameDCTInput)
	for k, b := range boxes {
		resizeBox(sum, w, h, b, small)
		v, err := e.Embed(small)
		if err != nil {
			return nil, err
		}
		views = append(views, FrameView{Kind: kinds[k], Box: b, Cell: cells[k], Vector: v})
	}
	return views, nil
}

// insertedPicture looks for the edges of a picture pasted over the frame
// near box b: a side of b away from the frame's edge moves to a line
// within half a grid step of it along which the frame steps (find), and a
// horizontal and a vertical side must. It returns b moved to the lines
// found.
func insertedPicture(grey []byte, w, h int, b Box) (Box, bool) {
	x0, x1 := int(math.Round(b.X*float64(w))), int(math.Round((b.X+b.W)*float64(w)))
	y0, y1 := int(math.Round(b.Y*float64(h))), int(math.Round((b.Y+b.H)*float64(h)))
	x1, y1 = min(x1, w), min(y1, h)
	dx, dy := int(math.Ceil(pipStep/2*float64(w))), int(math.Ceil(pipStep/2*float64(h)))
	// step(rows, at, from, to): the mean |difference| between line at+1
	// and line at-1 (rows, or columns) over [from, to): an edge that falls
	// between two lines of this small frame is blended into one of them,
	// and still steps fully across the three.
	step := func(rows bool, at, from, to int) float64 {
		var sum float64
		for k := from; k < to; k++ {
			if rows {
				sum += math.Abs(float64(grey[(at+1)*w+k]) - float64(grey[(at-1)*w+k]))
			} else {
				sum += math.Abs(float64(grey[k*w+at+1]) - float64(grey[k*w+at-1]))
			}
		}
		return sum / float64(max(to-from, 1))
	}
	// find returns the line within ±d of at across which the frame steps
	// most, if it stands out: at least 2.5 times the steps 3 lines to
	// either side (a pasted picture's edge is one line; the pictures' own
	// detail is spread over many) and 8 grey levels; -1 when there is
	// none.
	find := func(rows bool, at, d, from, to, limit int) int {
		best, bestAt := 0.0, -1
		for k := max(at-d, 4); k <= min(at+d, limit-5); k++ {
			s := step(rows, k, from, to)
			around := (step(rows, k-3, from, to) + step(rows, k+3, from, to)) / 2
			if r := s / max(around, 1); s >= 8 && r >= 2.5 && r > best {
				best, bestAt = r, k
			}
		}
		return bestAt
	}
	// Each side away from the frame's edge snaps to its line where one is
	// found; a corner — a horizontal and a vertical side found — is
	// needed (a side can be lost where both pictures have the same grey).
	across, down := 0, 0
	snap := func(at *int, rows bool, d, from, to, limit int) {
		if k := find(rows, *at, d, from, to, limit); k >= 0 {
			*at = k
			if rows {
				across++
			} else {
				down++
			}
		}
	}
	if y0 > dy {
		snap(&y0, true, dy, x0, x1, h)
	}
	if y1 < h-dy {
		snap(&y1, true, dy, x0, x1, h)
	}
	if x0 > dx {
		snap(&x0, false, dx, y0, y1, w)
	}
	if x1 < w-dx {
		snap(&x1, false, dx, y0, y1, w)
	}
	if across == 0 || down == 0 || x1-x0 < w/4 || y1-y0 < h/4 {
		return b, false
	}
	return Box{float64(x0) / float64(w), float64(y0) / float64(h), float64(x1-x0) / float64(w), float64(y1-y0) / float64(h)}, true
}

// ContentBox finds the picture inside a frame's bars or fill: rows and
// columns at the edges with almost no detail (black or coloured bars, or
// the blurred, zoomed copy of the picture that vertical reposts fill
// their frame with) are left out. It returns Whole when there are none,
// or when what is left would be under a fifth of a side.
func ContentBox(grey []byte, w, h int) Box {
	// Bars at the sides first, then top and bottom within the picture's
	// columns (so side bars do not dilute the rows' detail), then the
	// sides again within its rows.
	left, right := edges(detail(grey, w, h, 0, w, 0, h, false))
	top, bottom := edges(detail(grey, w, h, left, right, 0, h, true))
	left2, right2 := edges(detail(grey, w, h, 0, w, top, bottom, false))
	left, right = max(left, left2), min(right, right2)
	b := Box{float64(left) / float64(w), float64(top) / float64(h), float64(right-left) / float64(w), float64(bottom-top) / float64(h)}
	if b.W < 0.2 || b.H < 0.2 || (b.W > 0.97 && b.H > 0.97) {
		return Whole
	}
	return b
}

// detail is the mean absolute difference of each row (rows) or column
// of the grey image's [x0,x1)×[y0,y1) to its right and lower neighbours.
func detail(grey []byte, w, h, x0, x1, y0, y1 int, rows bool) []float64 {
	n := w
	if rows {
		n = h
	}
	out := make([]float64, n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			p := int(grey[y*w+x])
			d := 0
			if x+1 < w {
				d += abs(p - int(grey[y*w+x+1]))
			}
			if y+1 < h {
				d += abs(p - int(grey[(y+1)*w+x]))
			}
			if rows {
				out[y] += float64(d)
			} else {
				out[x] += float64(d)
			}
		}
	}
	span := float64(max(y1-y0, 1))
	if rows {
		span = float64(max(x1-x0, 1))
	}
	for i := range out {
		out[i] /= span
	}
	return out
}

// edges returns the first and one past the last line of detail: a line
// counts when it and the next two have at least 0.4 of the detail of the
// busiest lines (the 90th percentile: the picture, however little of the
// frame it fills) and more than flat bars' compression noise. A blurred
// fill keeps a fifth to a third of the picture's detail at this size.
func edges(detail []float64) (int, int) {
	n := len(detail)
	sorted := slices.Clone(detail)
	slices.Sort(sorted)
	floor := max(1.0, 0.4*sorted[n*9/10])
	busy := func(i int) bool {
		for k := i; k < min(i+3, n); k++ {
			if detail[k] < floor {
				return false
			}
		}
		return true
	}
	first, last := 0, n
	for first < n && !busy(first) {
		first++
	}
	for last > first && !busy(max(last-3, 0)) {
		last--
	}
	if first >= last {
		return 0, n
	}
	return first, last
}

// integral is the summed-area table of a grey image, (w+1)×(h+1).
func integral(grey []byte, w, h int) []float64 {
	s := make([]float64, (w+1)*(h+1))
	for y := range h {
		var row float64
		for x := range w {
			row += float64(grey[y*w+x])
			s[(y+1)*(w+1)+x+1] = s[y*(w+1)+x+1] + row
		}
	}
	return s
}

// resizeBox averages box b of the image behind the summed-area table sum
// into the 64×64 out (an area resize, as the decoder's own).
func resizeBox(sum []float64, w, h int, b Box, out []byte) {
	n := FrameDCTInput
	x0, y0 := b.X*float64(w), b.Y*float64(h)
	sx, sy := b.W*float64(w)/float64(n), b.H*float64(h)/float64(n)
	at := func(x, y int) float64 { return sum[y*(w+1)+x] }
	for j := range n {
		ya := min(max(int(math.Round(y0+float64(j)*sy)), 0), h-1)
		yb := min(max(int(math.Round(y0+float64(j+1)*sy)), ya+1), h)
		for i := range n {
			xa := min(max(int(math.Round(x0+float64(i)*sx)), 0), w-1)
			xb := min(max(int(math.Round(x0+float64(i+1)*sx)), xa+1), w)
			v := (at(xb, yb) - at(xa, yb) - at(xb, ya) + at(xa, ya)) / float64((xb-xa)*(yb-ya))
			out[j*n+i] = byte(v + 0.5)
		}
	}
}

// MirrorFrameDCT returns the frame_dct_v1 vector of the frame flipped left
// to right: the DCT-II of a mirrored row is the same with every odd
// horizontal frequency negated, so no pixels are needed.
func MirrorFrameDCT(v []float32) []float32 {
	out := make([]float32, len(v))
	for i := range v {
		k := i + 1 // the DC term is not in the vector
		if k%dctBlock%2 == 1 {
			out[i] = -v[i]
		} else {
			out[i] = v[i]
		}
	}
	return out
}

// cropSizes are the crops looked for in a candidate's frame when a copy
// may be a crop of it zoomed back to the frame (up to 30 % cut away).
var cropSizes = []float64{0.7, 0.75, 0.8, 0.85, 0.9}

// cropSide is the side of the low-pass frame crops are cut from: 16
// frequencies need 32 samples.
const cropSide = 32

// FrameCrop is the descriptor of a crop of a frame, rebuilt from the
// frame's frame_dct_v1 vector alone, and of the frequencies it holds:
// Band×Band (less the DC term), which BandFrameDCT cuts a query's vector
// down to before the two are compared.
type FrameCrop struct {
	Box    Box
	Band   int
	Vector []float32
}

// FrameCrops returns the descriptors of crops of 70–90 % of a frame (on a
// 5 % grid) from its frame_dct_v1 vector: the vector's 16×16 lowest
// frequencies are the frame blurred, which is rebuilt (inverse DCT at
// 32×32), cropped and described again. A crop of a fraction f holds the
// frame's frequencies below 16 only, its own below 16·f: that band is
// all that is compared. The index keeps whole frames only; a copy that
// crops and zooms is found by cropping the candidates it retrieves.
func FrameCrops(v []float32) []FrameCrop {
	low, basis := lowPass(v)
	if low == nil {
		return nil
	}
	n := cropSide
	var out []FrameCrop
	win := make([]float64, n*n)
	for _, f := range cropSizes {
		band := int(math.Floor(float64(dctBlock) * f))
		steps := int(math.Round((1-f)/pipStep)) + 1
		for i := range steps {
			for j := range steps {
				b := Box{float64(j) * pipStep, float64(i) * pipStep, f, f}
				sampleBox(low, n, b, win)
				out = append(out, FrameCrop{Box: b, Band: band, Vector: bandDCT(win, n, band, band, basis)})
			}
		}
	}
	return out
}

// Regions are the parts of a frame compared when a copy covers a band of
// it (a caption banner across the top or the bottom, up to 15 %).
var Regions = []Box{{0, 0.15, 1, 0.85}, {0, 0, 1, 0.85}}

// RegionFrameDCT describes region b of the frame whose frame_dct_v1
// vector is v, from the vector alone (the frame blurred, rebuilt, cut to
// b and described on the frequencies it holds): the same for a query and
// a candidate, so a banner over the rest of the frame is left out of the
// comparison.
func RegionFrameDCT(v []float32, b Box) []float32 {
	low, basis := lowPass(v)
	if low == nil {
		return nil
	}
	n := cropSide
	win := make([]float64, n*n)
	sampleBox(low, n, b, win)
	return bandDCT(win, n, int(math.Floor(float64(dctBlock)*b.W)), int(math.Floor(float64(dctBlock)*b.H)), basis)
}

// lowPass rebuilds the frame behind a frame_dct_v1 vector, blurred to its
// 16×16 lowest frequencies (the DC at 0), as cropSide×cropSide samples,
// and returns the DCT basis it used; nil for a vector of another size.
func lowPass(v []float32) ([]float64, []float64) {
	if len(v) != FrameDCTDim {
		return nil, nil
	}
	n := cropSide
	// The inverse of an unnormalised DCT-II weighs the zero frequency of
	// each axis by a half.
	var coef [dctBlock * dctBlock]float64
	for i, c := range v {
		k := i + 1
		w := 1.0
		if k%dctBlock == 0 {
			w /= 2
		}
		if k/dctBlock == 0 {
			w /= 2
		}
		coef[k] = float64(c) * w
	}
	basis := cropBasis
	low := make([]float64, n*n)
	tmp := make([]float64, dctBlock*n) // [v][x]
	for fv := range dctBlock {
		for x := range n {
			var s float64
			for fu := range dctBlock {
				s += coef[fv*dctBlock+fu] * basis[fu*n+x]
			}
			tmp[fv*n+x] = s
		}
	}
	for y := range n {
		for x := range n {
			var s float64
			for fv := range dctBlock {
				s += tmp[fv*n+x] * basis[fv*n+y]
			}
			low[y*n+x] = s
		}
	}
	return low, basis
}

// BandFrameDCT cuts a frame_dct_v1 vector down to its band×band lowest
// frequencies (less the DC term), normalised: what FrameCrop vectors of
// that band are compared with.
func BandFrameDCT(v []float32, band int) []float32 {
	out := make([]float32, 0, band*band-1)
	for fv := range band {
		for fu := range band {
			if k := fv*dctBlock + fu; k > 0 && k-1 < len(v) {
				out = append(out, v[k-1])
			}
		}
	}
	vecmath.Normalize(out)
	return out
}

// cropBasis is the DCT basis the crops are rebuilt and described with.
var cropBasis = dctBasis(cropSide, dctBlock)

// dctBasis is the orthogonal DCT-II basis, basis[u*n+x] for the first
// freqs frequencies over n samples (a scale common to every coefficient
// does not matter: vectors are normalised).
func dctBasis(n, freqs int) []float64 {
	b := make([]float64, freqs*n)
	for u := range freqs {
		for x := range n {
			b[u*n+x] = math.Cos(math.Pi / float64(n) * (float64(x) + 0.5) * float64(u))
		}
	}
	return b
}

// sampleBox resamples box b of the n×n image img to n×n, bilinearly (the
// image is already low-pass).
func sampleBox(img []float64, n int, b Box, out []float64) {
	for y := range n {
		sy := (b.Y+(float64(y)+0.5)/float64(n)*b.H)*float64(n) - 0.5
		y0 := min(max(int(math.Floor(sy)), 0), n-1)
		y1 := min(y0+1, n-1)
		fy := min(max(sy-float64(y0), 0), 1)
		for x := range n {
			sx := (b.X+(float64(x)+0.5)/float64(n)*b.W)*float64(n) - 0.5
			x0 := min(max(int(math.Floor(sx)), 0), n-1)
			x1 := min(x0+1, n-1)
			fx := min(max(sx-float64(x0), 0), 1)
			top := img[y0*n+x0]*(1-fx) + img[y0*n+x1]*fx
			bot := img[y1*n+x0]*(1-fx) + img[y1*n+x1]*fx
			out[y*n+x] = top*(1-fy) + bot*fy
		}
	}
}

// bandDCT is the bandX×bandY lowest DCT-II frequencies of the n×n
// image, less the DC term, normalised.
func bandDCT(img []float64, n, bandX, bandY int, basis []float64) []float32 {
	rows := make([]float64, n*bandX) // [y][u]
	for y := range n {
		for u := range bandX {
			var s float64
			for x := range n {
				s += img[y*n+x] * basis[u*n+x]
			}
			rows[y*bandX+u] = s
		}
	}
	out := make([]float32, 0, bandX*bandY-1)
	for v := range bandY {
		for u := range bandX {
			if u == 0 && v == 0 {
				continue
			}
			var s float64
			for y := range n {
				s += rows[y*bandX+u] * basis[v*n+y]
			}
			out = append(out, float32(s))
		}
	}
	vecmath.Normalize(out)
	return out
}
