// Package astro computes the times the fixDateTime header fix writes (MJD-OBS, HJD-OBS, BJD-OBS) and parses the
// date, time and angle strings they are computed from, offline and in pure Go, agreeing with astropy 5.2.1.
package astro
