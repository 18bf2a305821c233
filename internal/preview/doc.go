// Package preview draws quick-look PNGs of a conditioned frame's MERGED
// image, scaled with the zscale algorithm (ds9's, as astropy's
// ZScaleInterval computes it): <stored name>.png, a quarter of the width and
// height, and <stored name>.thumb.png, about 200 pixels on its longer side,
// both beside the stored copy. A view: it only reads the stored copy.
package preview
