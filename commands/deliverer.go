package commands

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/condition"
	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/preview"
)

// newDeliverer builds the one delivery path from the config.
func newDeliverer(cfg *config.Config, version string, log *slog.Logger) (*deliver.Deliverer, error) {
	dest := func(d config.Destination) deliver.DestOptions {
		return deliver.DestOptions{Collision: deliver.Policy(d.Collision), MinFree: d.MinFree, Timeout: d.Timeout}
	}
	d, err := deliver.New(deliver.Options{
		Layout:     layout(cfg),
		Proc:       dest(cfg.Proc),
		Repo:       dest(cfg.Repo),
		Version:    version,
		ConfigHash: cfg.ProcessingHash(),
		Log:        log,
		Consumed:   cfg.Repo.Consumed,
		Preview:    previewer(cfg),
	}, condition.ForDelivery{Opts: processing(cfg, version), Preview: previewOptions(cfg)})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return d, nil
}

// previewOptions are how the quick-look PNGs are drawn beside each stored
// copy; nil if preview.enabled is off or there is no MERGED to draw
// (processing.makeOTM off).
func previewOptions(cfg *config.Config) *preview.Options {
	if !cfg.Preview.Enabled || !cfg.Processing.MakeOTM {
		return nil
	}
	return &preview.Options{Asinh: cfg.Preview.Asinh}
}

// previewer draws the previews of a stored copy from the file: for a copy
// the delivery path did not condition itself (a dispatch of a copy stored
// earlier).
func previewer(cfg *config.Config) func(string) error {
	o := previewOptions(cfg)
	if o == nil {
		return nil
	}
	return func(stored string) error {
		_, err := preview.Write(stored, *o)
		return err
	}
}

// layout is the config's folder layout.
func layout(cfg *config.Config) frame.Layout {
	return frame.Layout{
		DataDir:  cfg.Paths.DataDir,
		ProcDir:  cfg.Paths.ProcDir,
		RepoDir:  cfg.Paths.RepoDir,
		StateDir: cfg.Paths.StateDir,
	}
}

// isRawFault reports errors that come from the raw file itself rather than
// from a destination: a retry cannot help until the file changes.
func isRawFault(err error) bool {
	var se *fits.StepError
	var fe *fits.FormatError
	return errors.As(err, &se) || errors.As(err, &fe)
}
