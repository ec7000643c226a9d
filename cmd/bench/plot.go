package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The plot is drawn with image/png and x/image's built-in 7x13 bitmap font
// (basicfont): two log-log lines need no plotting library.
const (
	plotW, plotH = 800, 500
	marginL      = 80
	marginR      = 30
	marginT      = 50
	marginB      = 60
)

type series struct {
	name  string
	color color.RGBA
	pts   [][2]float64 // (nodes, incidents/s)
}

// plotIncidents draws incidents/s against node count, log scales, one
// line per implementation.
func plotIncidents(points []IncidentPoint) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	ours := series{name: "ours (bin/gatherer)", color: color.RGBA{0x1f, 0x77, 0xb4, 0xff}}
	py := series{name: "python-foolscap 21.7", color: color.RGBA{0xff, 0x7f, 0x0e, 0xff}}
	for _, p := range points {
		if ok(p.Go) && p.Go > 0 {
			ours.pts = append(ours.pts, [2]float64{float64(p.Nodes), p.Go})
		}
		if ok(p.Python) && p.Python > 0 {
			py.pts = append(py.pts, [2]float64{float64(p.Nodes), p.Python})
		}
	}
	black := color.RGBA{0, 0, 0, 0xff}
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	text(img, marginL, 25, "Incident gatherer: incidents/s against publishing nodes (log-log)", black)
	all := append(append([][2]float64(nil), ours.pts...), py.pts...)
	if len(all) == 0 {
		text(img, marginL, plotH/2, "no incident figures in this run", black)
		return encodePNG(img)
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range all {
		xmin, xmax = math.Min(xmin, p[0]), math.Max(xmax, p[0])
		ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
	}
	lx0, lx1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	pw, ph := float64(plotW-marginL-marginR), float64(plotH-marginT-marginB)
	px := func(x float64) int { return marginL + int((math.Log10(x)-lx0)/(lx1-lx0)*pw) }
	py_ := func(y float64) int { return plotH - marginB - int((math.Log10(y)-ly0)/(ly1-ly0)*ph) }
	for d := lx0; d <= lx1; d++ {
		x := px(math.Pow(10, d))
		line(img, x, marginT, x, plotH-marginB, grey, 1)
		text(img, x-10, plotH-marginB+18, fmtPow(d), black)
	}
	for d := ly0; d <= ly1; d++ {
		y := py_(math.Pow(10, d))
		line(img, marginL, y, plotW-marginR, y, grey, 1)
		text(img, marginL-60, y+4, fmtPow(d), black)
	}
	line(img, marginL, plotH-marginB, plotW-marginR, plotH-marginB, black, 1)
	line(img, marginL, marginT, marginL, plotH-marginB, black, 1)
	text(img, plotW/2-60, plotH-15, "publishing nodes", black)
	text(img, 5, marginT-10, "incidents/s", black)
	for i, s := range []series{ours, py} {
		for j, p := range s.pts {
			x, y := px(p[0]), py_(p[1])
			square(img, x, y, 4, s.color)
			if j > 0 {
				line(img, px(s.pts[j-1][0]), py_(s.pts[j-1][1]), x, y, s.color, 2)
			}
			text(img, x+6, y-6, fmtNum(p[1]), s.color)
		}
		ly := marginT + 10 + 18*i
		square(img, plotW-marginR-200, ly-4, 4, s.color)
		text(img, plotW-marginR-190, ly, s.name, black)
	}
	return encodePNG(img)
}

func fmtPow(d float64) string {
	v := math.Pow(10, d)
	if v >= 1 && v < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("1e%.0f", d)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func text(img draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func square(img *image.RGBA, x, y, r int, c color.RGBA) {
	for i := -r; i <= r; i++ {
		for j := -r; j <= r; j++ {
			img.SetRGBA(x+i, y+j, c)
		}
	}
}

// line draws a segment w pixels wide (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, w int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for i := 0; i < w; i++ {
			for j := 0; j < w; j++ {
				img.SetRGBA(x0+i, y0+j, c)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
