package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The chart is SVG written by hand: a few rectangles and lines need no
// dependency. With peers it shows spool's advantage over each (log scale,
// 1× marked); with spool alone, spool's figures as fractions of the
// machine's limits.

const (
	chartWidth  = 960
	chartLabelW = 270 // the column of workload names
	chartRightW = 90  // room for the value after the longest bar
	chartTop    = 64
	chartBarH   = 13
	chartGap    = 10 // between workloads
)

var chartColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// WriteSVG writes the chart of r.
func (r *Report) WriteSVG(w io.Writer) error {
	peers := slices.DeleteFunc(r.systems(), func(s string) bool { return s == "spool" })
	c := &svg{}
	if len(peers) > 0 {
		r.ratioChart(c, peers)
	} else {
		r.limitChart(c)
	}
	_, err := io.WriteString(w, c.String())
	return err
}

// bar is one bar of the chart: a value placed on the scale, and its label.
type bar struct {
	series int
	value  float64
	label  string
}

func (r *Report) ratioChart(c *svg, peers []string) {
	type row struct {
		name string
		bars []bar
	}
	var rows []row
	lo, hi := 0.5, 10.0
	for _, name := range r.workloadNames() {
		sp, _ := r.result("spool", name)
		rw := row{name: name}
		for i, p := range peers {
			res, _ := r.result(p, name)
			if a := Advantage(name, sp, res); a > 0 {
				rw.bars = append(rw.bars, bar{i, a, fmtRatio(a)})
				lo, hi = math.Min(lo, a/1.5), math.Max(hi, a*1.5)
			}
		}
		if len(rw.bars) > 0 {
			rows = append(rows, rw)
		}
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	scale := func(v float64) float64 {
		return chartLabelW + (chartWidth-chartLabelW-chartRightW)*(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	height := chartTop + 30
	for _, rw := range rows {
		height += len(rw.bars)*chartBarH + chartGap
	}
	c.open(height)
	c.text(10, 22, "start", 16, "bold", "How many times better spool is than each peer (log scale; right of 1× spool is ahead)")
	c.legend(peers)
	for v := lo; v <= hi*1.001; v *= 10 {
		x := scale(v)
		width := 1.0
		if v == 1 {
			width = 2
		}
		c.line(x, chartTop-6, x, float64(height-24), "#999", width)
		c.text(x, float64(height-8), "middle", 11, "", fmt.Sprintf("%g×", v))
	}
	y := float64(chartTop)
	for _, rw := range rows {
		c.text(chartLabelW-8, y+float64(len(rw.bars)*chartBarH)/2+4, "end", 12, "", rw.name)
		for _, b := range rw.bars {
			x0, x1 := scale(1), scale(b.value)
			c.rect(math.Min(x0, x1), y+1, math.Abs(x1-x0), chartBarH-2, chartColors[b.series%len(chartColors)])
			c.text(math.Max(x0, x1)+4, y+chartBarH-3, "start", 10, "", b.label)
			y += chartBarH
		}
		y += chartGap
	}
	c.close()
}

func (r *Report) limitChart(c *svg) {
	var bars []bar
	var names []string
	for _, res := range r.Results {
		if res.System == "spool" && res.OfLimit > 0 {
			names = append(names, res.Workload+" ("+strings.TrimPrefix(res.Limit, "limit-")+")")
			bars = append(bars, bar{0, res.OfLimit, fmt.Sprintf("%.0f%%", 100*res.OfLimit)})
		}
	}
	hi := 1.0
	for _, b := range bars {
		hi = math.Max(hi, b.value)
	}
	scale := func(v float64) float64 { return chartLabelW + (chartWidth-chartLabelW-chartRightW)*v/hi }
	height := chartTop + 30 + len(bars)*(chartBarH+chartGap)
	c.open(height)
	c.text(10, 22, "start", 16, "bold", "spool's figures as a fraction of the machine's limits, measured in the same run")
	c.text(10, 42, "start", 12, "", "seqwrite: sequential write with a final sync; append-sync: small appends each synced; memcopy: memory copy")
	for v := 0.0; v <= hi+1e-9; v += 0.25 {
		c.line(scale(v), chartTop-6, scale(v), float64(height-24), "#999", 1)
		c.text(scale(v), float64(height-8), "middle", 11, "", fmt.Sprintf("%.0f%%", 100*v))
	}
	y := float64(chartTop)
	for i, b := range bars {
		c.text(chartLabelW-8, y+chartBarH-2, "end", 12, "", names[i])
		c.rect(scale(0), y+1, scale(b.value)-scale(0), chartBarH-2, chartColors[0])
		c.text(scale(b.value)+4, y+chartBarH-3, "start", 10, "", b.label)
		y += chartBarH + chartGap
	}
	c.close()
}

// svg builds an SVG document.
type svg struct{ strings.Builder }

func (c *svg) open(height int) {
	fmt.Fprintf(c, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(c, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
}

func (c *svg) close() { c.WriteString("</svg>\n") }

var svgEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func (c *svg) text(x, y float64, anchor string, size int, weight, s string) {
	if weight == "" {
		weight = "normal"
	}
	fmt.Fprintf(c, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" font-weight="%s">%s</text>`+"\n",
		x, y, anchor, size, weight, svgEscaper.Replace(s))
}

func (c *svg) rect(x, y, w, h float64, fill string) {
	fmt.Fprintf(c, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, fill)
}

func (c *svg) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(c, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.0f"/>`+"\n", x1, y1, x2, y2, stroke, width)
}

// legend names each series in its color, in a row under the title.
func (c *svg) legend(names []string) {
	x := 10.0
	for i, n := range names {
		c.rect(x, 34, 12, 12, chartColors[i%len(chartColors)])
		c.text(x+16, 44, "start", 12, "", n)
		x += 30 + 8*float64(len(n))
	}
}
