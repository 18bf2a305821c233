package fits

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// HDU locates one header-data unit in a file.
type HDU struct {
	Index      int
	Header     *Header
	Start      int64 // offset of the first header block
	HeaderSize int64 // bytes of header blocks, END and padding included
	DataSize   int64 // bytes of data, padding excluded
}

// DataStart is the offset of the data unit.
func (h *HDU) DataStart() int64 { return h.Start + h.HeaderSize }

// End is the offset just past the padded data unit.
func (h *HDU) End() int64 { return h.DataStart() + padded(h.DataSize) }

// Name is EXTNAME, or PRIMARY for the first HDU.
func (h *HDU) Name() string {
	if s, err := h.Header.String("EXTNAME"); err == nil {
		return s
	}
	if h.Index == 0 {
		return "PRIMARY"
	}
	return "HDU" + strconv.Itoa(h.Index)
}

func padded(n int64) int64 { return (n + BlockLen - 1) / BlockLen * BlockLen }

// ErrTruncated marks a file that ends before its headers say it should; a
// raw file still being written looks like this, so callers may retry.
var ErrTruncated = errors.New("truncated")

// FormatError describes a structural problem in a FITS file.
type FormatError struct {
	HDU    int // index of the HDU, -1 for the file as a whole
	Offset int64
	Err    error
}

func (e *FormatError) Error() string {
	if e.HDU < 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("hdu %d at byte %d: %v", e.HDU, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Scan walks the HDUs of a FITS file of the given size. It checks the
// structure (mandatory keywords, block alignment, data sizes against the file
// size) but reads no data.
func Scan(r io.ReaderAt, size int64) ([]*HDU, error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	var hdus []*HDU
	for off := int64(0); off < size; {
		h, err := scanOne(r, off, size, len(hdus))
		if err != nil {
			return nil, err
		}
		hdus = append(hdus, h)
		off = h.End()
		if off > size {
			return nil, &FormatError{h.Index, h.Start, fmt.Errorf("%w: data unit needs %d bytes up to byte %d, file has %d",
				ErrTruncated, h.DataSize, off, size)}
		}
	}
	return hdus, nil
}

// checkSize refuses a file too small to hold a FITS header.
func checkSize(size int64) error {
	if size < BlockLen {
		if size == 0 {
			return &FormatError{-1, 0, errors.New("empty file")}
		}
		return &FormatError{-1, 0, fmt.Errorf("not a FITS file: %d bytes, less than one block", size)}
	}
	return nil
}

func scanOne(r io.ReaderAt, off, size int64, index int) (*HDU, error) {
	buf := make([]byte, 0, 4*BlockLen)
	block := make([]byte, BlockLen)
	for {
		if off+int64(len(buf)) >= size {
			return nil, &FormatError{index, off, fmt.Errorf("%w: header has no END card before end of file", ErrTruncated)}
		}
		n, err := r.ReadAt(block, off+int64(len(buf)))
		if n < BlockLen {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: partial header block", ErrTruncated)
			}
			return nil, &FormatError{index, off, err}
		}
		if len(buf) > 0 && string(block[:10]) == "XTENSION= " {
			// The next HDU begins where this header's END should have been:
			// parsing on would take that HDU's data for this one's header.
			return nil, &FormatError{index, off, fmt.Errorf("header has no END card: the next HDU's XTENSION card begins at byte %d", off+int64(len(buf)))}
		}
		buf = append(buf, block...)
		if index == 0 && len(buf) == BlockLen && !isFITSStart(buf) {
			return nil, &FormatError{-1, 0, errors.New("not a FITS file: does not start with SIMPLE = T")}
		}
		// Parse only once the END card has arrived, so a long header costs
		// one pass, not one per block.
		if !hasEND(block) {
			if len(buf) >= maxHeader {
				return nil, &FormatError{index, off, fmt.Errorf("header longer than the %d-byte (1 MiB) limit: no END card in its first %d blocks", maxHeader, len(buf)/BlockLen)}
			}
			continue
		}
		hdr, hlen, err := ParseHeader(buf)
		if err != nil {
			return nil, &FormatError{index, off, err}
		}
		h := &HDU{Index: index, Header: hdr, Start: off, HeaderSize: int64(hlen)}
		if err := checkMandatory(h); err != nil {
			return nil, &FormatError{index, off, err}
		}
		ds, err := dataSize(hdr)
		if err != nil {
			return nil, &FormatError{index, off, err}
		}
		h.DataSize = ds
		return h, nil
	}
}

// maxHeader bounds the header read, so a file with no END card (or a
// hostile one) cannot make Scan read and hold it all; a MODS header is a
// few blocks.
const maxHeader = 1 << 20

func hasEND(block []byte) bool {
	for i := 0; i+CardLen <= len(block); i += CardLen {
		if string(block[i:i+3]) == "END" && strings.TrimRight(string(block[i+3:i+CardLen]), " ") == "" {
			return true
		}
	}
	return false
}

func isFITSStart(b []byte) bool {
	return len(b) >= CardLen && string(b[:30]) == "SIMPLE  =                    T"
}

// checkMandatory enforces the first keywords of a primary header or of an
// IMAGE/BINTABLE/TABLE extension, in their required order.
func checkMandatory(h *HDU) error {
	cards := h.Header.Cards
	first := "XTENSION"
	if h.Index == 0 {
		first = "SIMPLE"
	}
	if len(cards) < 3 || cards[0].Key != first {
		return fmt.Errorf("first keyword is not %s", first)
	}
	if h.Index == 0 && (cards[0].Kind != KindBool || !cards[0].Bool) {
		return errors.New("SIMPLE is not T")
	}
	if cards[1].Key != "BITPIX" || cards[2].Key != "NAXIS" {
		return errors.New("BITPIX and NAXIS must follow " + first)
	}
	naxis, err := h.Header.Int("NAXIS")
	if err != nil || naxis < 0 || naxis > 999 {
		return fmt.Errorf("bad NAXIS")
	}
	for i := int64(1); i <= naxis; i++ {
		k := 2 + int(i)
		if k >= len(cards) || cards[k].Key != "NAXIS"+strconv.FormatInt(i, 10) {
			return fmt.Errorf("NAXIS%d missing or out of order", i)
		}
	}
	if h.Index > 0 {
		k := 3 + int(naxis)
		if k+1 >= len(cards) || cards[k].Key != "PCOUNT" || cards[k+1].Key != "GCOUNT" {
			return errors.New("PCOUNT and GCOUNT must follow the NAXISn keywords")
		}
	}
	return nil
}

// dataSize computes |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn).
func dataSize(h *Header) (int64, error) {
	bitpix, err := h.Int("BITPIX")
	if err != nil {
		return 0, err
	}
	switch bitpix {
	case 8, 16, 32, 64, -32, -64:
	default:
		return 0, fmt.Errorf("BITPIX %d is not a FITS value", bitpix)
	}
	naxis, _ := h.Int("NAXIS")
	if naxis == 0 {
		return 0, nil
	}
	n := int64(1)
	for i := int64(1); i <= naxis; i++ {
		v, err := h.Int("NAXIS" + strconv.FormatInt(i, 10))
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad NAXIS%d", i)
		}
		if v != 0 && n > (1<<50)/v {
			return 0, fmt.Errorf("data size overflows")
		}
		n *= v
	}
	pcount, gcount := int64(0), int64(1)
	if h.Has("PCOUNT") {
		if pcount, err = h.Int("PCOUNT"); err != nil || pcount < 0 || pcount > 1<<50 {
			return 0, errors.New("bad PCOUNT")
		}
	}
	if h.Has("GCOUNT") {
		if gcount, err = h.Int("GCOUNT"); err != nil || gcount < 0 || gcount > 1<<20 {
			return 0, errors.New("bad GCOUNT")
		}
	}
	abs := bitpix
	if abs < 0 {
		abs = -abs
	}
	total := abs / 8 * gcount * (pcount + n)
	if total < 0 || total > 1<<50 {
		return 0, errors.New("data size overflows")
	}
	return total, nil
}

// File is a FITS file opened read-only, with its HDUs located.
type File struct {
	Path string
	Size int64
	HDUs []*HDU
	f    readAtCloser
}

// readAtCloser is what a File reads through: an *os.File, or in the tests
// one whose bytes change under the reader.
type readAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Open opens path read-only and scans its structure. A path that is not a
// regular file (a FIFO, socket, device or directory) is refused at once with
// a *NotRegularError, never waited on: see OpenRegular. Errors in opening
// name the file; a structural problem is a *FormatError, which names the HDU
// and the byte, for the caller to put after the file's name.
func Open(path string) (*File, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	hdus, err := Scan(f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{Path: path, Size: st.Size(), HDUs: hdus, f: f}, nil
}

// ReadPrimary reads the primary header of the file at path and nothing
// more: neither the extensions, which need not be there yet (a raw file
// still being written), nor any data. The path is refused as Open refuses
// it; a structural problem of the primary header is a *FormatError.
func ReadPrimary(path string) (*HDU, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkSize(st.Size()); err != nil {
		return nil, err
	}
	return scanOne(f, 0, st.Size(), 0)
}

// ReadAt reads from the underlying file.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Data returns a reader over the unpadded data unit of an HDU.
func (f *File) Data(h *HDU) *io.SectionReader {
	return io.NewSectionReader(f.f, h.DataStart(), h.DataSize)
}

// Writer writes HDUs strictly in order, so its destination can be a pipe:
// every header is final when it is written, CHECKSUM and DATASUM included,
// which is why the caller says what the data unit will sum to before it is
// produced.
type Writer struct {
	bw  *bufio.Writer
	off int64
}

// NewWriter starts a FITS stream on dst.
func NewWriter(dst io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(dst, 1<<20)}
}

// Offset is the number of bytes written so far.
func (w *Writer) Offset() int64 { return w.off }

// ErrDatasum is matched (with errors.Is) by WriteHDU's error when the data
// written do not sum to the DATASUM already written in their header: what
// was read to compute it changed before it was read again to be written.
// The output is wrong and must be discarded.
var ErrDatasum = errors.New("data unit does not match its DATASUM")

// WriteHDU writes hdr with CHECKSUM and DATASUM cards (replaced if present,
// else appended) for a data unit of dataLen bytes whose ones' complement
// sum, zero padding included, is datasum; then the data unit produced by
// fill. The data are summed as they are written: if they do not sum to
// datasum, the error wraps ErrDatasum.
func (w *Writer) WriteHDU(hdr *Header, dataLen int64, datasum uint32, fill func(io.Writer) error) error {
	setChecksumCards(hdr, zeroChecksum, datasum)
	withSum, err := hdr.Bytes()
	if err != nil {
		return err
	}
	setChecksumCards(hdr, encodeChecksum(onesAdd(sum32(withSum), datasum)), datasum)
	got, err := w.write(hdr, dataLen, fill)
	if err == nil && got != datasum {
		err = fmt.Errorf("%w: the data written sum to %d, the header says %d", ErrDatasum, got, datasum)
	}
	return err
}

const zeroChecksum = "0000000000000000"

// WritePlainHDU writes hdr as it is, with no checksum cards: what a camera
// server writes, used by the synthetic raw generator.
func (w *Writer) WritePlainHDU(hdr *Header, dataLen int64, fill func(io.Writer) error) error {
	_, err := w.write(hdr, dataLen, fill)
	return err
}

// write writes the header and the padded data unit and returns the ones'
// complement sum of the data.
func (w *Writer) write(hdr *Header, dataLen int64, fill func(io.Writer) error) (uint32, error) {
	b, err := hdr.Bytes()
	if err != nil {
		return 0, err
	}
	if _, err := w.bw.Write(b); err != nil {
		return 0, err
	}
	w.off += int64(len(b))
	if dataLen == 0 {
		return 0, nil
	}
	var s summer
	if err := fill(io.MultiWriter(w.bw, &s)); err != nil {
		return 0, err
	}
	if s.n != dataLen {
		return 0, fmt.Errorf("data unit: wrote %d bytes, header says %d", s.n, dataLen)
	}
	if pad := padded(dataLen) - dataLen; pad > 0 {
		if _, err := w.bw.Write(make([]byte, pad)); err != nil {
			return 0, err
		}
	}
	w.off += padded(dataLen)
	return s.Sum(), nil
}

// Flush writes out anything buffered.
func (w *Writer) Flush() error { return w.bw.Flush() }

func setChecksumCards(h *Header, checksum string, datasum uint32) {
	h.Set(StringCard("CHECKSUM", checksum, "HDU checksum"))
	h.Set(StringCard("DATASUM", strconv.FormatUint(uint64(datasum), 10), "data unit checksum"))
}

// ChecksumStatus is the outcome of checking one HDU's CHECKSUM and DATASUM.
type ChecksumStatus struct {
	HasChecksum, HasDatasum bool
	ChecksumOK, DatasumOK   bool
}

// OK reports both cards present and valid.
func (c ChecksumStatus) OK() bool {
	return c.HasChecksum && c.HasDatasum && c.ChecksumOK && c.DatasumOK
}

// VerifyChecksum recomputes the sums of one HDU of f. buf is scratch space.
func VerifyChecksum(r io.ReaderAt, h *HDU, buf []byte) (ChecksumStatus, error) {
	var st ChecksumStatus
	hdrBytes := make([]byte, h.HeaderSize)
	if _, err := r.ReadAt(hdrBytes, h.Start); err != nil {
		return st, err
	}
	datasum, err := SumReader(io.NewSectionReader(r, h.DataStart(), padded(h.DataSize)), padded(h.DataSize), buf)
	if err != nil {
		return st, err
	}
	if v, err := h.Header.String("DATASUM"); err == nil {
		st.HasDatasum = true
		st.DatasumOK = v == strconv.FormatUint(uint64(datasum), 10)
	}
	if _, err := h.Header.String("CHECKSUM"); err == nil {
		st.HasChecksum = true
		st.ChecksumOK = onesAdd(sum32(hdrBytes), datasum) == 0xffffffff
	}
	return st, nil
}
