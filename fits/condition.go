package fits

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/obsdata/dataman/internal/astro"
)

// Options switch the conditioning steps (the processing keys of the
// dataMan config) and carry what the provenance cards record.
type Options struct {
	FixDETSEC, FixDateTime, FixTemps, FixMisc, MakeOTM bool
	// Site is used for HJD/BJD when the primary lacks LATITUDE, LONGITUD or
	// ELEVATIO.
	Site       astro.Site
	Version    string // dataman version, written as DMVERS
	ConfigHash string // hash of the processing config, written as DMCONFIG
	// HashRaw computes Result.RawSHA256, which the ledger records; plain
	// conditioning leaves it off and keeps both cores for the work.
	HashRaw bool
	// Merged, when set, is told MERGED's width and height before MERGED is
	// written, and returns what is handed each block of its rows as they
	// are written, in order, as the file has them (big-endian float32): the
	// quick-look previews are gathered that way, without reading the file
	// back. It may return nil.
	Merged func(width, height int) func(rows []byte)
}

// AllSteps returns options with every step on, at the LBT site.
func AllSteps(version, configHash string) Options {
	return Options{FixDETSEC: true, FixDateTime: true, FixTemps: true, FixMisc: true, MakeOTM: true,
		Site: astro.LBT, Version: version, ConfigHash: configHash}
}

// Result describes one conditioned file.
type Result struct {
	UniqName  string
	Warnings  []string
	QBias     [4]float64 // Q1..Q4 (= IM3, IM4, IM1, IM2) median overscan bias
	QStd      [4]float64
	RawSize   int64
	RawSHA256 string
	OutSize   int64
	HDUs      int
}

// StepError is a conditioning failure: the step and the reason.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func stepErr(step string, err error) error {
	if err == nil {
		return nil
	}
	return &StepError{step, err}
}

// ErrConditioned is returned for a file that dataman (or dataMan) has
// already conditioned: conditioning twice would corrupt it.
var ErrConditioned = errors.New("already conditioned")

// The layout of a raw MODS file and of a conditioned one: the primary,
// IM1..IM4 and CONPARS, then MERGED as extension 6, the extension modsDisp
// and modsAlign read.
const (
	rawExtensions = 5
	MergedExt     = 6
)

// ErrNoMerged is matched (with errors.Is) by CheckMergedExt's error for a
// file with no MERGED extension at all, as makeOTM off writes.
var ErrNoMerged = errors.New("no MERGED extension")

// CheckMergedExt checks the HDU list of a conditioned file: MERGED must be
// extension 6 (HDU index 6), where modsDisp and modsAlign read it, and only
// there. The error says where MERGED is instead, or wraps ErrNoMerged.
func CheckMergedExt(hdus []*HDU) error {
	var at []int
	for i, h := range hdus {
		if i > 0 && strings.EqualFold(h.Name(), "MERGED") {
			at = append(at, i)
		}
	}
	switch {
	case len(at) == 0:
		return fmt.Errorf("%w: %d extensions, modsDisp and modsAlign read MERGED from extension %d", ErrNoMerged, len(hdus)-1, MergedExt)
	case len(at) > 1:
		return fmt.Errorf("MERGED is extensions %s; one MERGED, extension %d, is expected", joinInts(at), MergedExt)
	case at[0] != MergedExt:
		return fmt.Errorf("MERGED is extension %d, not %d where modsDisp and modsAlign read it", at[0], MergedExt)
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// Provenance keywords written once, in the primary header only.
const (
	KeyVersion = "DMVERS"
	KeyConfig  = "DMCONFIG"
)

// Condition reads a raw MODS file and writes the conditioned file to dst:
// the primary and IM1..IM4 with the header fixes, CONPARS unchanged, and the
// MERGED image as extension 6, every HDU with CHECKSUM and DATASUM. The raw
// quadrant data are copied unchanged; the raw file is only read.
func Condition(raw *File, dst io.Writer, opts Options) (*Result, error) {
	res := &Result{RawSize: raw.Size}
	for _, h := range raw.HDUs {
		if strings.EqualFold(h.Name(), "MERGED") {
			return nil, stepErr("check", fmt.Errorf("%w: it has a MERGED extension; condition the raw file instead", ErrConditioned))
		}
	}
	switch n := len(raw.HDUs) - 1; {
	case n < rawExtensions:
		return nil, stepErr("check", fmt.Errorf("%d extensions, a raw MODS file has %d (IM1..IM4 and CONPARS)", n, rawExtensions))
	case n > rawExtensions:
		// dataMan appended MERGED after them all, where modsDisp and
		// modsAlign, which read extension 6, never look.
		return nil, stepErr("check", fmt.Errorf("%d extensions, a raw MODS file has %d (IM1..IM4 and CONPARS): MERGED would be extension %d, not %d where modsDisp and modsAlign read it",
			n, rawExtensions, n+1, MergedExt))
	}
	primary := raw.HDUs[0].Header.Clone()
	if v, err := primary.String(KeyVersion); err == nil {
		return nil, stepErr("check", fmt.Errorf("%w by dataman %s; condition the raw file instead", ErrConditioned, v))
	}
	instrume, err := primary.String("INSTRUME")
	if err != nil {
		return nil, stepErr("check", fmt.Errorf("primary: %w", err))
	}
	instrume = strings.TrimSpace(instrume)
	var quadHDUs [nQuad]*HDU
	var quadHdrs [nQuad]*Header
	for i := range quadHDUs {
		quadHDUs[i] = raw.HDUs[i+1]
		quadHdrs[i] = quadHDUs[i].Header.Clone()
	}
	geom, warns, err := readGeometry(primary, quadHDUs)
	if err != nil {
		return nil, stepErr("geometry", err)
	}
	res.Warnings = append(res.Warnings, warns...)
	conparsHDU := findConpars(raw.HDUs)
	if conparsHDU == nil {
		return nil, stepErr("fixTemps", errors.New("no CONPARS table (extension 5)"))
	}

	// dataMan sets UNIQNAME first, then runs the fixes in this order. A
	// frame whose header gives no exposure start is still delivered, as
	// dataMan delivers it, under a name from its primary header.
	if iso, _, _, err := exposureStart(primary); err == nil {
		res.UniqName = uniqName(instrume, iso)
	} else {
		name, herr := hashName(raw, instrume)
		if herr != nil {
			return nil, stepErr("read", fmt.Errorf("primary header: %w", herr))
		}
		res.UniqName = name
		res.Warnings = append(res.Warnings, fmt.Sprintf("uniqname: no exposure start (%v): UNIQNAME %s is named after the SHA-256 of the raw primary header", err, name))
	}
	primary.Set(StringCard("UNIQNAME", res.UniqName, "Unique filename"))
	if opts.FixDETSEC {
		fixDETSEC(geom, quadHdrs)
	}
	if opts.FixDateTime {
		res.Warnings = append(res.Warnings, fixDateTime(primary, opts.Site)...)
	}
	if opts.FixTemps {
		data := make([]byte, conparsHDU.DataSize)
		if _, err := raw.ReadAt(data, conparsHDU.DataStart()); err != nil {
			return nil, stepErr("fixTemps", fmt.Errorf("reading CONPARS: %w", err))
		}
		cp, err := readConpars(conparsHDU, data)
		if err != nil {
			return nil, stepErr("fixTemps", err)
		}
		res.Warnings = append(res.Warnings, fixTemps(primary, instrume, cp)...)
	}
	if opts.FixMisc {
		res.Warnings = append(res.Warnings, fixMisc(primary, geom)...)
	}

	// One read of the raw file gives every DATASUM before anything is
	// written, and the bias boxes. The SHA-256 the ledger records reads on
	// its own meanwhile: fed by that read it would hold back the first byte
	// written by its whole time, where on its own it overlaps the writing.
	rawHash := hashRaw(raw, opts.HashRaw)
	defer rawHash()
	var readers [nQuad]*quadReader
	var quads *quadScan
	if opts.MakeOTM {
		for i := range readers {
			if readers[i], err = newQuadReader(raw, quadHDUs[i], geom); err != nil {
				return nil, stepErr("merge", err)
			}
		}
		quads = newQuadScan(quadHDUs, geom)
	}
	scan, err := scanRaw(raw, quads)
	if err != nil {
		return nil, stepErr("read", err)
	}
	var merged *hduPlan
	if opts.MakeOTM {
		var bias, std [nQuad]float64
		for i, q := range readers {
			if bias[i], std[i], err = q.biasStats(quads.box[i]); err != nil {
				return nil, stepErr("merge", fmt.Errorf("%s: %w", quadHDUs[i].Name(), err))
			}
		}
		for i, m := range []string{"Q3 flip cols", "Q4 flip rows and cols", "Q1 flip cols", "Q2 flip rows and cols"} {
			quadHdrs[i].Set(StringCard("MODSQUAD", m, "Mapping into MODS CCD"))
		}
		// Q1..Q4 are IM3, IM4, IM1, IM2.
		for qn, im := range [4]int{2, 3, 0, 1} {
			res.QBias[qn], res.QStd[qn] = bias[im], std[im]
		}
		merged = &hduPlan{hdr: mergedHeader(primary, geom, res.QBias, res.QStd),
			size: 2 * geom.XTrim() * 2 * geom.NY * 4}
		var rows func([]byte)
		if opts.Merged != nil {
			rows = opts.Merged(int(2*geom.XTrim()), int(2*geom.NY))
		}
		merged.fill = mergedFill(readers, bias, rows)
		ensureLongstrn(merged.hdr)
		if merged.datasum, err = mergedDatasum(quads, readers, bias); err != nil {
			return nil, stepErr("merge", err)
		}
	}
	primary.Set(StringCard(KeyVersion, opts.Version, "dataman version that conditioned this file"))
	primary.Set(StringCard(KeyConfig, opts.ConfigHash, "dataman processing config hash"))
	ensureLongstrn(primary)

	w := NewWriter(dst)
	if err := writeAll(w, raw, primary, quadHdrs, scan, merged); err != nil {
		return nil, err
	}
	if res.RawSHA256, err = rawHash(); err != nil {
		return nil, stepErr("read", err)
	}
	res.OutSize = w.Offset()
	res.HDUs = len(raw.HDUs)
	if merged != nil {
		res.HDUs++
	}
	return res, nil
}

// hashRaw starts the SHA-256 of the whole raw file on its own goroutine, if
// on, and returns the function that waits for it ("" when not on).
func hashRaw(raw *File, on bool) func() (string, error) {
	if !on {
		return func() (string, error) { return "", nil }
	}
	done := make(chan struct{})
	var sum string
	var err error
	go func() {
		defer close(done)
		buf := bufPool.Get().(*[scanBufSize]byte)
		defer bufPool.Put(buf)
		h := sha256.New()
		if _, err = io.CopyBuffer(h, io.NewSectionReader(raw, 0, raw.Size), buf[:]); err == nil {
			sum = hex.EncodeToString(h.Sum(nil))
		}
	}()
	return func() (string, error) {
		<-done
		return sum, err
	}
}

// mergedDatasum is the DATASUM of MERGED: from the quadrant histograms
// through the lookup tables when there are histograms (BITPIX 16), else by
// computing the image once only to sum it.
func mergedDatasum(quads *quadScan, readers [nQuad]*quadReader, bias [nQuad]float64) (uint32, error) {
	if quads.hist[0] == nil {
		var s summer
		err := mergedFill(readers, bias, nil)(&s)
		return s.Sum(), err
	}
	var sum uint32
	for i, q := range readers {
		sum = onesAdd(sum, countedSum(quads.hist[i], q.table(bias[i])))
	}
	return sum, nil
}

// hduPlan is an HDU to write whose data are computed: its header, the size
// and sum of its data unit, and what writes the data.
type hduPlan struct {
	hdr     *Header
	size    int64
	datasum uint32
	fill    func(io.Writer) error
}

// writeAll writes the conditioned HDUs in file order: the primary, the raw
// extensions with their data copied unchanged, then MERGED unless it is
// nil. A data unit that does not sum to what scan found means the raw file
// changed between the two reads: the output is then wrong, and the error
// says so.
func writeAll(w *Writer, raw *File, primary *Header, quadHdrs [nQuad]*Header, scan *rawScan, merged *hduPlan) error {
	if err := w.WriteHDU(primary, 0, 0, nil); err != nil {
		return stepErr("write", fmt.Errorf("primary: %w", err))
	}
	buf := bufPool.Get().(*[scanBufSize]byte)
	defer bufPool.Put(buf)
	for i, h := range raw.HDUs[1:] {
		hdr := h.Header.Clone()
		if i < nQuad {
			hdr = quadHdrs[i]
		}
		ensureLongstrn(hdr)
		fill := func(dst io.Writer) error {
			// A buffer of the scan's size: io.Copy's 32 KiB would cost
			// thirty times the system calls.
			_, err := io.CopyBuffer(dst, raw.Data(h), buf[:])
			return err
		}
		if err := w.WriteHDU(hdr, h.DataSize, scan.datasum[h.Index], fill); err != nil {
			return stepErr("write", fmt.Errorf("%s: %w", h.Name(), changedRaw(err)))
		}
	}
	if merged != nil {
		if err := w.WriteHDU(merged.hdr, merged.size, merged.datasum, merged.fill); err != nil {
			return stepErr("write", fmt.Errorf("MERGED: %w", changedRaw(err)))
		}
	}
	return stepErr("write", w.Flush())
}

// changedRaw says what a DATASUM mismatch means here.
func changedRaw(err error) error {
	if errors.Is(err, ErrDatasum) {
		return fmt.Errorf("%w: the raw file changed while it was conditioned", err)
	}
	return err
}

// findConpars returns the CONPARS table: by name, else extension 5 as
// dataMan addresses it.
func findConpars(hdus []*HDU) *HDU {
	for _, h := range hdus[1:] {
		if strings.EqualFold(h.Name(), "CONPARS") {
			return h
		}
	}
	if len(hdus) > 5 {
		return hdus[5]
	}
	return nil
}

// mergedHeader builds the MERGED extension header as astropy's
// ImageHDU(data, header=primary, name="Merged") does: the image keywords,
// the processed primary without SIMPLE, BITPIX, NAXIS and EXTEND, then
// EXTNAME and the per-quadrant bias cards in Qn order.
func mergedHeader(primary *Header, g Geometry, qbias, qstd [4]float64) *Header {
	m := &Header{}
	m.Append(StringCard("XTENSION", "IMAGE", "Image extension"))
	m.Append(IntCard("BITPIX", -32, "array data type"))
	m.Append(IntCard("NAXIS", 2, "number of array dimensions"))
	m.Append(IntCard("NAXIS1", 2*g.XTrim(), ""))
	m.Append(IntCard("NAXIS2", 2*g.NY, ""))
	m.Append(IntCard("PCOUNT", 0, "number of parameters"))
	m.Append(IntCard("GCOUNT", 1, "number of groups"))
	skip := map[string]bool{"SIMPLE": true, "BITPIX": true, "NAXIS": true, "EXTEND": true, "CHECKSUM": true, "DATASUM": true}
	for _, c := range primary.Clone().Cards {
		if skip[c.Key] && !c.IsCommentary() {
			continue
		}
		m.Cards = append(m.Cards, c)
	}
	// ImageHDU(name="Merged") sets EXTNAME with astropy's own comment.
	m.Append(StringCard("EXTNAME", "MERGED", "extension name"))
	for q := 0; q < 4; q++ {
		m.Append(FloatCard(fmt.Sprintf("Q%dBIAS", q+1), qbias[q], fmt.Sprintf("Q%d median overscan bias [DN]", q+1)))
		m.Append(FloatCard(fmt.Sprintf("Q%dSTD", q+1), qstd[q], fmt.Sprintf("Q%d overscan bias stdev [DN]", q+1)))
	}
	return m
}

// ensureLongstrn declares the long-string convention in a header that
// uses CONTINUE cards, which fitsverify otherwise warns about.
func ensureLongstrn(h *Header) {
	if h.Has("LONGSTRN") {
		return
	}
	for i := range h.Cards {
		if imgs, err := h.Cards[i].Images(); err == nil && len(imgs) > 1 && h.Cards[i].Kind == KindString {
			h.Set(StringCard("LONGSTRN", "OGIP 1.0", "The OGIP long string convention may be used"))
			return
		}
	}
}
