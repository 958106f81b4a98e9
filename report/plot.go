package report

import (
	"fmt"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// PNG draws the runs, one colour each, in three panels sharing the time
// axis: training loss, evaluation accuracy and frozen layers against wall
// time (minutes). It writes path atomically.
func PNG(path string, runs ...*Run) error {
	panels := [3]*plot.Plot{plot.New(), plot.New(), plot.New()}
	titles := [3]string{"training loss", "eval accuracy", "frozen layers"}
	for i, p := range panels {
		p.Y.Label.Text = titles[i]
		p.Add(plotter.NewGrid())
	}
	panels[0].Title.Text = "autofreeze: " + runs[0].Name
	if len(runs) > 1 {
		panels[0].Title.Text = "autofreeze: accuracy and loss against wall time"
	}
	panels[2].X.Label.Text = "wall time (minutes)"
	for i, r := range runs {
		style := runStyle(i)
		loss, frozen := plotter.XYs{}, plotter.XYs{}
		for _, s := range r.Steps {
			loss = append(loss, plotter.XY{X: s.Elapsed / 60, Y: s.Loss})
			frozen = append(frozen, plotter.XY{X: s.Elapsed / 60, Y: float64(s.Frozen)})
		}
		acc := plotter.XYs{}
		for _, e := range sortedByElapsed(r.Evals) {
			acc = append(acc, plotter.XY{X: e.Elapsed / 60, Y: e.Accuracy})
		}
		if err := addLine(panels[0], loss, style, "", false, false); err != nil {
			return err
		}
		if err := addLine(panels[1], acc, style, r.Name, true, false); err != nil {
			return err
		}
		if err := addLine(panels[2], frozen, style, "", false, true); err != nil {
			return err
		}
	}
	panels[1].Legend.Top = false
	panels[1].Legend.Left = false
	panels[2].Y.Min = 0
	if runs[0].Layers > 0 {
		panels[2].Y.Max = float64(runs[0].Layers)
	}
	// Share the x range.
	xmax := 0.0
	for _, p := range panels {
		xmax = max(xmax, p.X.Max)
	}
	for _, p := range panels {
		p.X.Min, p.X.Max = 0, xmax
	}

	const w, h = 8 * vg.Inch, 9 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	grid := [][]*plot.Plot{{panels[0]}, {panels[1]}, {panels[2]}}
	canvases := plot.Align(grid, tiles, dc)
	for i := range panels {
		panels[i].Draw(canvases[i][0])
	}
	png := vgimg.PngCanvas{Canvas: img}
	return atomicfile.Write(path, func(wr io.Writer) error {
		_, err := png.WriteTo(wr)
		return err
	})
}

// runStyle is run i's line: the palette's colours, then the same colours
// dashed, so that no two of up to 3×7 runs look alike.
func runStyle(i int) draw.LineStyle {
	return draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5),
		Dashes: plotutil.Dashes(i / len(plotutil.DefaultColors))}
}

func addLine(p *plot.Plot, xys plotter.XYs, style draw.LineStyle, name string, points, steps bool) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	l.LineStyle = style
	if steps {
		l.StepStyle = plotter.PreStep
	}
	p.Add(l)
	if points {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.Color = style.Color
		p.Add(s)
	}
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}
