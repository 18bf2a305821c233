package condition

import (
	"context"
	"fmt"
	"io"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/preview"
)

// ForDelivery adapts the FITS conditioning core to the delivery path, so
// that a datagram, a sweep and a command by hand all condition the same way.
// It asks for the raw file's SHA-256, which the ledger records, and logs
// what conditioning could not do with the file's name.
//
// With Preview set, it gathers the quick-look previews of MERGED while it
// writes it, and RawInfo.Preview draws them beside the stored copy without
// reading it back.
type ForDelivery struct {
	Opts    fits.Options
	Preview *preview.Options
}

// Condition conditions rawPath into out.
func (c ForDelivery) Condition(ctx context.Context, rawPath string, out io.Writer) (deliver.RawInfo, error) {
	if err := ctx.Err(); err != nil {
		return deliver.RawInfo{}, err
	}
	raw, err := fits.Open(rawPath)
	if err != nil {
		return deliver.RawInfo{}, fmt.Errorf("read: %w", err)
	}
	defer raw.Close()
	opts := c.Opts
	opts.HashRaw = true
	var g *preview.Gatherer
	var gerr error
	if c.Preview != nil {
		opts.Merged = func(w, h int) func([]byte) {
			g = preview.NewGatherer(w, h, c.Preview.ZScale)
			return func(rows []byte) {
				if gerr == nil {
					gerr = g.Rows(rows)
				}
			}
		}
	}
	res, err := fits.Condition(raw, out, opts)
	if err != nil {
		return deliver.RawInfo{}, err
	}
	// The raw file was read once and is not read again: its pages leave
	// the page cache (on the mountain they cache the camera server's NFS
	// share) rather than push out what is read.
	raw.DropCache()
	for _, w := range res.Warnings {
		logx.From(ctx).Warn(w, "file", rawPath)
	}
	info := deliver.RawInfo{Size: res.RawSize, SHA256: res.RawSHA256, UniqName: res.UniqName}
	if g != nil && gerr == nil {
		o := *c.Preview
		info.Preview = func(stored string) error {
			_, err := preview.WriteGathered(stored, g, o)
			return err
		}
	}
	return info, nil
}
