package verify

import (
	"fmt"
	"io"
	"strings"

	"github.com/obsdata/dataman/fits"
)

type problem struct {
	status Status
	what   string
}

// checkFITS checks the structure, every HDU's CHECKSUM and DATASUM, and
// that the MERGED header repeats the primary's cards, and says how bad each
// fault is: a file that cannot be proved intact is an Error, one proved
// damaged Differs.
func checkFITS(r io.ReaderAt, size int64, wantMerged bool) ([]*fits.HDU, []problem) {
	hdus, err := fits.Scan(r, size)
	if err != nil {
		return nil, []problem{{Error, "not sound FITS: " + err.Error()}}
	}
	var out []problem
	buf := make([]byte, 1<<20)
	for _, h := range hdus {
		st, err := fits.VerifyChecksum(r, h, buf)
		if err != nil {
			out = append(out, problem{Error, fmt.Sprintf("%s: %v", hduName(h), err)})
			continue
		}
		if st.OK() {
			continue
		}
		var what []string
		s := Differs
		if !st.HasChecksum {
			what, s = append(what, "no CHECKSUM, so nothing proves it intact"), Error
		} else if !st.ChecksumOK {
			what = append(what, "CHECKSUM does not match")
		}
		if !st.HasDatasum {
			what, s = append(what, "no DATASUM"), Error
		} else if !st.DatasumOK {
			what = append(what, "the data do not match DATASUM")
		}
		out = append(out, problem{s, hduName(h) + ": " + strings.Join(what, ", ")})
	}
	merged := fits.FindMerged(hdus)
	switch {
	case merged == nil && wantMerged:
		out = append(out, problem{Differs, "no MERGED extension"})
	case merged != nil:
		// modsDisp and modsAlign read MERGED from extension 6 and nowhere
		// else: anywhere else it is as good as missing.
		if err := fits.CheckMergedExt(hdus); err != nil {
			out = append(out, problem{Differs, err.Error()})
		}
		if diffs := fits.MergedHeaderDiffs(hdus[0].Header, merged.Header); len(diffs) > 0 {
			if len(diffs) > 4 {
				diffs = append(diffs[:4], fmt.Sprintf("and %d more", len(diffs)-4))
			}
			out = append(out, problem{Differs, "MERGED header disagrees with the primary: " + strings.Join(diffs, ", ")})
		}
	}
	return hdus, out
}

func hduName(h *fits.HDU) string { return fmt.Sprintf("HDU %d (%s)", h.Index, h.Name()) }
