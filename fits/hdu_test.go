package fits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// smallFile writes a primary and one 3×2 int16 image.
func smallFile(t testing.TB) []byte {
	t.Helper()
	var m bytes.Buffer
	w := NewWriter(&m)
	p := &Header{}
	p.Append(BoolCard("SIMPLE", true, ""))
	p.Append(IntCard("BITPIX", 8, ""))
	p.Append(IntCard("NAXIS", 0, ""))
	p.Append(BoolCard("EXTEND", true, ""))
	if err := w.WriteHDU(p, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	e := &Header{}
	e.Append(StringCard("XTENSION", "IMAGE", ""))
	e.Append(IntCard("BITPIX", 16, ""))
	e.Append(IntCard("NAXIS", 2, ""))
	e.Append(IntCard("NAXIS1", 3, ""))
	e.Append(IntCard("NAXIS2", 2, ""))
	e.Append(IntCard("PCOUNT", 0, ""))
	e.Append(IntCard("GCOUNT", 1, ""))
	e.Append(StringCard("EXTNAME", "IM1", ""))
	data := []byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6}
	err := w.WriteHDU(e, 12, sum32(data), func(dst io.Writer) error {
		_, err := dst.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

func TestWriteScanVerify(t *testing.T) {
	b := smallFile(t)
	if len(b) != 3*BlockLen {
		t.Fatalf("file is %d bytes, want 3 blocks", len(b))
	}
	hdus, err := Scan(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(hdus) != 2 || hdus[1].Name() != "IM1" || hdus[1].DataSize != 12 {
		t.Fatalf("scan: %d HDUs", len(hdus))
	}
	for _, h := range hdus {
		st, err := VerifyChecksum(bytes.NewReader(b), h, make([]byte, 4096))
		if err != nil || !st.OK() {
			t.Fatalf("%s: %+v %v", h.Name(), st, err)
		}
	}
	// One flipped data byte breaks DATASUM and CHECKSUM of that HDU only.
	bad := bytes.Clone(b)
	bad[hdus[1].DataStart()+3] ^= 1
	st, _ := VerifyChecksum(bytes.NewReader(bad), hdus[1], make([]byte, 4096))
	if st.DatasumOK || st.ChecksumOK {
		t.Fatalf("edited pixel not detected: %+v", st)
	}
}

// TestWriteHDUDatasumMismatch: data that do not sum to the DATASUM already
// written in their header are an error, not a silently wrong file.
func TestWriteHDUDatasumMismatch(t *testing.T) {
	e := &Header{}
	e.Append(StringCard("XTENSION", "IMAGE", ""))
	e.Append(IntCard("BITPIX", 8, ""))
	e.Append(IntCard("NAXIS", 1, ""))
	e.Append(IntCard("NAXIS1", 5, ""))
	data := []byte{1, 2, 3, 4, 5}
	for _, c := range []struct {
		sum  uint32
		want bool
	}{{sum32([]byte{1, 2, 3, 4, 5, 0, 0, 0}), false}, {sum32([]byte{1, 2, 3, 4, 5, 0, 0, 1}), true}} {
		var b bytes.Buffer
		w := NewWriter(&b)
		err := w.WriteHDU(e.Clone(), 5, c.sum, func(dst io.Writer) error {
			_, err := dst.Write(data)
			return err
		})
		if got := errors.Is(err, ErrDatasum); got != c.want {
			t.Errorf("datasum %d: err %v, want ErrDatasum %v", c.sum, err, c.want)
		}
	}
}

func TestScanErrors(t *testing.T) {
	good := smallFile(t)
	noEnd := bytes.Clone(good)
	copy(noEnd[bytes.Index(noEnd, []byte("END     ")):], "XND     ")
	// A primary of more than 1 MiB that does end, with END, before its
	// extension.
	var big bytes.Buffer
	big.Write(good[:3*CardLen])
	for big.Len() < 1<<20+BlockLen {
		big.WriteString(fmt.Sprintf("%-80s", "COMMENT   filler"))
	}
	big.WriteString(fmt.Sprintf("%-80s", "END"))
	big.Write(bytes.Repeat([]byte(" "), BlockLen-big.Len()%BlockLen))
	big.Write(good[BlockLen:])
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"primary without END", noEnd, "hdu 0 at byte 0: header has no END card: the next HDU's XTENSION card begins at byte 2880"},
		{"header over 1 MiB", big.Bytes(), "hdu 0 at byte 0: header longer than the 1048576-byte (1 MiB) limit: no END card in its first 365 blocks"},
		{"empty", nil, "empty file"},
		{"text", []byte(strings.Repeat("hello world\n", 300)), "not a FITS file"},
		{"short", good[:100], "not a FITS file"},
		{"truncated data", good[:len(good)-10], "truncated"},
		{"truncated header", good[:2*BlockLen+5], "truncated"},
		{"no END", noEnd[:BlockLen], "no END"},
		{"bad BITPIX", bytes.Replace(good, []byte("BITPIX  =                   16"), []byte("BITPIX  =                   17"), 1), "BITPIX 17"},
	}
	for _, c := range cases {
		_, err := Scan(bytes.NewReader(c.b), int64(len(c.b)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	_, err := Scan(bytes.NewReader(good[:len(good)-10]), int64(len(good)-10))
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated file error %v is not ErrTruncated", err)
	}
}

func FuzzScan(f *testing.F) {
	good := smallFile(f)
	f.Add(good)
	f.Add(good[:BlockLen])
	f.Add(realHeader(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		hdus, err := Scan(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var end int64
		for _, h := range hdus {
			if h.Start != end || h.HeaderSize%BlockLen != 0 || h.DataSize < 0 {
				t.Fatalf("inconsistent HDU %+v after byte %d", h, end)
			}
			end = h.End()
		}
		if end != int64(len(b)) {
			t.Fatalf("HDUs end at %d, file has %d bytes", end, len(b))
		}
	})
}
