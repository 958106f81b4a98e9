package probe

import "math"

// lbfgs minimises a smooth function f (which writes its gradient into its
// second argument) from x0 with limited-memory BFGS (Nocedal and Wright,
// Algorithm 7.4, memory 10) and a backtracking line search on the Armijo
// condition. It stops after maxIter iterations, or when the gradient's
// largest component or the relative decrease of f falls below 1e-7.
func lbfgs(f func(x, g []float64) float64, x0 []float64, maxIter int) []float64 {
	const memory = 10
	n := len(x0)
	x := append([]float64(nil), x0...)
	g := make([]float64, n)
	fx := f(x, g)
	var ss, ys [][]float64
	var rhos []float64
	dir := make([]float64, n)
	alpha := make([]float64, memory)
	xNew, gNew := make([]float64, n), make([]float64, n)
	for iter := 0; iter < maxIter; iter++ {
		if maxAbs(g) < 1e-7 {
			break
		}
		// Two-loop recursion: dir = -H·g.
		copy(dir, g)
		for i := len(ss) - 1; i >= 0; i-- {
			alpha[i] = rhos[i] * dot(ss[i], dir)
			axpy(-alpha[i], ys[i], dir)
		}
		if k := len(ss) - 1; k >= 0 {
			scale(dot(ss[k], ys[k])/dot(ys[k], ys[k]), dir)
		}
		for i := range ss {
			b := rhos[i] * dot(ys[i], dir)
			axpy(alpha[i]-b, ss[i], dir)
		}
		scale(-1, dir)
		slope := dot(g, dir)
		if slope >= 0 { // not a descent direction: restart from the gradient
			ss, ys, rhos = nil, nil, nil
			copy(dir, g)
			scale(-1, dir)
			slope = dot(g, dir)
		}
		step := 1.0
		if len(ss) == 0 {
			step = 1 / math.Max(1, math.Sqrt(dot(g, g)))
		}
		var fNew float64
		for tries := 0; ; tries++ {
			for i := range x {
				xNew[i] = x[i] + step*dir[i]
			}
			fNew = f(xNew, gNew)
			if fNew <= fx+1e-4*step*slope || tries == 40 {
				break
			}
			step /= 2
		}
		s, y := make([]float64, n), make([]float64, n)
		for i := range x {
			s[i], y[i] = xNew[i]-x[i], gNew[i]-g[i]
		}
		decrease := (fx - fNew) / math.Max(1, math.Abs(fx))
		copy(x, xNew)
		copy(g, gNew)
		fx = fNew
		if sy := dot(s, y); sy > 1e-12 {
			if len(ss) == memory {
				ss, ys, rhos = ss[1:], ys[1:], rhos[1:]
			}
			ss, ys, rhos = append(ss, s), append(ys, y), append(rhos, 1/sy)
		}
		if decrease >= 0 && decrease < 1e-10 {
			break
		}
	}
	return x
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func scale(a float64, x []float64) {
	for i := range x {
		x[i] *= a
	}
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
