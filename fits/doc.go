// Package fits owns the FITS bytes dataman reads and writes: header cards
// kept byte for byte and new ones formatted as astropy formats them, HDU
// scanning, a streaming writer that puts CHECKSUM and DATASUM on every HDU,
// and the conditioning of a raw MODS file (dataMan's header fixes, with their
// corrections, and the bias-subtracted, trimmed MERGED image).
package fits
