// Package synth writes realistic synthetic raw MODS Archon FITS files: the
// multi-extension files azcam writes (primary, IM1..IM4 int16 quadrants,
// CONPARS status table), with azcam's header cards, values and formatting and
// pixels that look like bias, flat or spectrum frames, so that tests and
// benchmarks never need real data committed.
package synth
