package preview

import (
	"math"
	"slices"
)

// ZScale holds the parameters of the zscale algorithm, named as in astropy's
// ZScaleInterval.
type ZScale struct {
	NSamples      int
	Contrast      float64
	MaxReject     float64
	MinNPixels    int
	KRej          float64
	MaxIterations int
}

// DefaultZScale is astropy's ZScaleInterval() (and ds9's zscale).
var DefaultZScale = ZScale{NSamples: 1000, Contrast: 0.25, MaxReject: 0.5, MinNPixels: 5, KRej: 2.5, MaxIterations: 5}

// stride is astropy's: int(max(1.0, n / n_samples)) over the finite values.
func (z ZScale) stride(finite int) int {
	return max(1, int(float64(finite)/float64(z.NSamples)))
}

// Limits returns the zscale limits of values, as astropy 5.2's
// ZScaleInterval.get_limits does: the finite values are sampled with a
// regular stride, a line is fitted to the sorted sample with iterative
// k-sigma rejection (the rejected pixels grown by 1 % of the sample), and
// the limits are the median ∓ the slope over the contrast across the
// sample, clipped to the sample's range. ok is false when no value is
// finite.
func (z ZScale) Limits(values []float32) (lo, hi float64, ok bool) {
	finite := 0
	for _, v := range values {
		if isFinite(v) {
			finite++
		}
	}
	st := z.stride(finite)
	samples := make([]float32, 0, min(z.NSamples, finite))
	k := 0
	for _, v := range values {
		if !isFinite(v) {
			continue
		}
		if k%st == 0 {
			samples = append(samples, v)
			if len(samples) == z.NSamples {
				break
			}
		}
		k++
	}
	return z.fromSamples(samples)
}

func isFinite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// fromSamples is the fit of get_limits over a sample taken in image order.
func (z ZScale) fromSamples(samples []float32) (lo, hi float64, ok bool) {
	npix := len(samples)
	if npix == 0 {
		return 0, 0, false
	}
	slices.Sort(samples)
	y := make([]float64, npix)
	for i, v := range samples {
		y[i] = float64(v)
	}
	lo, hi = y[0], y[npix-1]
	minpix := max(z.MinNPixels, int(float64(npix)*z.MaxReject))
	ngrow := max(1, int(float64(npix)*0.01))
	bad := make([]bool, npix)
	grown := make([]bool, npix)
	ngood, lastGood := npix, npix+1
	var slope float64
	fitted := false
	for range z.MaxIterations {
		if ngood >= lastGood || ngood < minpix {
			break
		}
		s, c := fitLine(y, bad)
		slope, fitted = s, true
		// k-sigma threshold over the residuals of the good pixels
		var sum, n float64
		for i := range y {
			if !bad[i] {
				sum += y[i] - (s*float64(i) + c)
				n++
			}
		}
		mean := sum / n
		var ss float64
		for i := range y {
			if !bad[i] {
				d := y[i] - (s*float64(i) + c) - mean
				ss += d * d
			}
		}
		threshold := z.KRej * math.Sqrt(ss/n)
		for i := range y {
			if f := y[i] - (s*float64(i) + c); f < -threshold || f > threshold {
				bad[i] = true
			}
		}
		// numpy.convolve(bad, ones(ngrow), mode="same"): pixel j turns bad
		// when any of bad[j-(ngrow-1-h) .. j+h] is, h = (ngrow-1)/2.
		h := (ngrow - 1) / 2
		lastGood, ngood = ngood, 0
		for j := range grown {
			grown[j] = false
			for i := max(0, j-(ngrow-1-h)); i <= min(npix-1, j+h); i++ {
				if bad[i] {
					grown[j] = true
					break
				}
			}
			if !grown[j] {
				ngood++
			}
		}
		bad, grown = grown, bad
	}
	if fitted && ngood >= minpix {
		if z.Contrast > 0 {
			slope /= z.Contrast
		}
		center := (npix - 1) / 2
		median := float64(samples[npix/2])
		if npix%2 == 0 {
			median = float64((samples[npix/2-1] + samples[npix/2]) / 2) // float32, as numpy's median of float32
		}
		lo = max(lo, median-float64(center-1)*slope)
		hi = min(hi, median+float64(npix-center)*slope)
	}
	return lo, hi, true
}

// fitLine is numpy.polyfit(x, y, 1, w=~bad) with x = 0, 1, …: the least
// squares line through the good pixels.
func fitLine(y []float64, bad []bool) (slope, intercept float64) {
	var n, sx, sy float64
	for i, v := range y {
		if !bad[i] {
			n++
			sx += float64(i)
			sy += v
		}
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i, v := range y {
		if !bad[i] {
			dx := float64(i) - mx
			sxx += dx * dx
			sxy += dx * (v - my)
		}
	}
	if sxx == 0 {
		return 0, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}
