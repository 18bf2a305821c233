package condition

import (
	"context"
	"fmt"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/logx"
)

// ForDelivery adapts the FITS conditioning core to the delivery path, so
// that a datagram, a sweep and a command by hand all condition the same way.
// It asks for the raw file's SHA-256, which the ledger records, and logs
// what conditioning could not do with the file's name.
type ForDelivery struct{ Opts fits.Options }

// Condition conditions rawPath into out.
func (c ForDelivery) Condition(ctx context.Context, rawPath string, out deliver.Output) (deliver.RawInfo, error) {
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
	res, err := fits.Condition(raw, out, opts)
	if err != nil {
		return deliver.RawInfo{}, err
	}
	for _, w := range res.Warnings {
		logx.From(ctx).Warn(w, "file", rawPath)
	}
	return deliver.RawInfo{Size: res.RawSize, SHA256: res.RawSHA256, UniqName: res.UniqName}, nil
}
