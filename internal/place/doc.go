// Package place decides under which name a finished file goes into a folder
// and commits it there: the raw file's name if it is free or holds the same
// bytes, else by the collision policy (under rename: the UNIQNAME, then
// <uniq>-2.fits, -3…), with a rename that never replaces a file another
// writer put there meanwhile. The stored copies of the delivery path and the
// outputs of `dataman condition --out` are placed by this one rule.
package place
