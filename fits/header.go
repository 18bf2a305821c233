package fits

import (
	"errors"
	"fmt"
	"strings"
)

// Header is an ordered list of cards. END is not one of them: it is added
// when the header is written.
type Header struct {
	Cards []Card
}

// ErrNoEND means the header blocks ran out before an END card.
var ErrNoEND = errors.New("no END card")

// ParseHeader parses header blocks from b until the END card. It returns the
// header and the number of bytes the header occupies (a multiple of 2880).
// Cards continued with CONTINUE are joined into one card, and every card keeps
// its original bytes.
func ParseHeader(b []byte) (*Header, int, error) {
	h := &Header{}
	for off := 0; ; off += CardLen {
		if off+CardLen > len(b) {
			return nil, 0, ErrNoEND
		}
		img := string(b[off : off+CardLen])
		if strings.TrimRight(img, " ") == "END" {
			n := (off/BlockLen + 1) * BlockLen
			if n > len(b) {
				return nil, 0, fmt.Errorf("header block after END card is truncated")
			}
			return h, n, nil
		}
		c, err := parseCard(img)
		if err != nil {
			return nil, 0, fmt.Errorf("card %d: %w", off/CardLen+1, err)
		}
		if c.Key == "CONTINUE" && len(h.Cards) > 0 && joinContinue(&h.Cards[len(h.Cards)-1], img) {
			continue
		}
		h.Cards = append(h.Cards, c)
	}
}

// joinContinue appends a CONTINUE card to a long string card that announced
// it with a trailing '&'. It reports false when prev is not such a card, in
// which case the CONTINUE card stands alone as commentary.
func joinContinue(prev *Card, img string) bool {
	if prev.Kind != KindString || prev.raw == nil || !strings.HasSuffix(prev.Str, "&") {
		return false
	}
	v := Card{}
	parseValue(&v, img[8:])
	if v.Kind != KindString {
		return false
	}
	prev.Str = strings.TrimSuffix(prev.Str, "&") + v.Str
	prev.text = "" // a long string is formatted afresh from its value
	// astropy joins the comment pieces of CONTINUE cards with one blank.
	if v.Comment != "" {
		if prev.Comment != "" {
			prev.Comment += " "
		}
		prev.Comment += strings.TrimRight(v.Comment, " ")
	}
	prev.raw = append(prev.raw, img)
	return true
}

// Index returns the position of the first card with key, or -1.
func (h *Header) Index(key string) int {
	for i := range h.Cards {
		if h.Cards[i].Key == key && !h.Cards[i].IsCommentary() {
			return i
		}
	}
	return -1
}

// Get returns the first card with key.
func (h *Header) Get(key string) (*Card, bool) {
	if i := h.Index(key); i >= 0 {
		return &h.Cards[i], true
	}
	return nil, false
}

// Has reports whether key is present.
func (h *Header) Has(key string) bool { return h.Index(key) >= 0 }

// MissingError is returned by the typed getters for an absent keyword.
type MissingError struct{ Key string }

func (e *MissingError) Error() string { return fmt.Sprintf("missing keyword %s", e.Key) }

// String returns the value of a string card.
func (h *Header) String(key string) (string, error) {
	c, ok := h.Get(key)
	if !ok {
		return "", &MissingError{key}
	}
	if c.Kind != KindString {
		return "", fmt.Errorf("keyword %s is not a string (%s)", key, c.ValueString())
	}
	return c.Str, nil
}

// Int returns the value of an integer card; a real with an integral value
// is accepted, as azcam's typing of header values is loose.
func (h *Header) Int(key string) (int64, error) {
	c, ok := h.Get(key)
	if !ok {
		return 0, &MissingError{key}
	}
	switch {
	case c.Kind == KindInt:
		return c.Int, nil
	case c.Kind == KindFloat && c.Float == float64(int64(c.Float)):
		return int64(c.Float), nil
	}
	return 0, fmt.Errorf("keyword %s is not an integer (%s)", key, c.ValueString())
}

// Float returns the value of a numeric card.
func (h *Header) Float(key string) (float64, error) {
	c, ok := h.Get(key)
	if !ok {
		return 0, &MissingError{key}
	}
	if v, ok := c.Number(); ok {
		return v, nil
	}
	return 0, fmt.Errorf("keyword %s is not a number (%s)", key, c.ValueString())
}

// Set replaces the value and comment of the first card with the same key,
// keeping its position, or appends the card if the key is absent. It does
// what astropy's header[key] = (value, comment) does to the card: an equal
// value of the same type is no change, so a card whose comment is the same
// too keeps its bytes, and one with only a new comment keeps the text of
// its value.
func (h *Header) Set(c Card) {
	c.raw, c.text = nil, ""
	if i := h.Index(c.Key); i >= 0 {
		old := &h.Cards[i]
		if sameValue(old, &c) {
			if old.Comment == c.Comment {
				return
			}
			c.text = old.text
		}
		h.Cards[i] = c
		return
	}
	h.Append(c)
}

// sameValue is astropy's test for an unchanged value: the same type (a
// bool is not an int, an int not a real) and an equal value, strings
// compared without trailing blanks.
func sameValue(a, b *Card) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindString:
		return strings.TrimRight(a.Str, " ") == strings.TrimRight(b.Str, " ")
	case KindBool:
		return a.Bool == b.Bool
	case KindInt:
		return a.Int == b.Int
	case KindFloat:
		return a.Float == b.Float
	case KindNone:
		return true
	}
	return false
}

// Append adds a card where astropy's Header.append puts it: a keyword card
// goes right after the last keyword card (before trailing commentary), a
// commentary card at the very end.
func (h *Header) Append(c Card) {
	if c.IsCommentary() {
		h.Cards = append(h.Cards, c)
		return
	}
	at := len(h.Cards)
	for at > 0 && h.Cards[at-1].IsCommentary() {
		at--
	}
	h.Cards = append(h.Cards, Card{})
	copy(h.Cards[at+1:], h.Cards[at:])
	h.Cards[at] = c
}

// Add puts a card at the very end, whatever it is: how a writer that
// builds a header in order (azcam's section banners, then their keywords)
// lays it out.
func (h *Header) Add(c Card) { h.Cards = append(h.Cards, c) }

// Delete removes every card with key and reports whether there was one.
func (h *Header) Delete(key string) bool {
	out := h.Cards[:0]
	found := false
	for _, c := range h.Cards {
		if c.Key == key && !c.IsCommentary() {
			found = true
			continue
		}
		out = append(out, c)
	}
	h.Cards = out
	return found
}

// Clone returns a deep copy.
func (h *Header) Clone() *Header {
	out := &Header{Cards: make([]Card, len(h.Cards))}
	copy(out.Cards, h.Cards)
	for i := range out.Cards {
		if out.Cards[i].raw != nil {
			out.Cards[i].raw = append([]string(nil), out.Cards[i].raw...)
		}
	}
	return out
}

// Bytes serialises the header with END, padded with blanks to whole blocks.
func (h *Header) Bytes() ([]byte, error) {
	var b strings.Builder
	b.Grow((len(h.Cards) + 1) * CardLen)
	for i := range h.Cards {
		imgs, err := h.Cards[i].Images()
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			b.WriteString(img)
		}
	}
	b.WriteString(fmt.Sprintf("%-80s", "END"))
	if r := b.Len() % BlockLen; r != 0 {
		b.WriteString(strings.Repeat(" ", BlockLen-r))
	}
	return []byte(b.String()), nil
}

// Size is the number of bytes Bytes would return.
func (h *Header) Size() (int, error) {
	n := 1
	for i := range h.Cards {
		imgs, err := h.Cards[i].Images()
		if err != nil {
			return 0, err
		}
		n += len(imgs)
	}
	return (n*CardLen + BlockLen - 1) / BlockLen * BlockLen, nil
}

// Dump lists the cards as text, one image per line, for goldens and tests.
func (h *Header) Dump() string {
	var b strings.Builder
	for i := range h.Cards {
		imgs, err := h.Cards[i].Images()
		if err != nil {
			fmt.Fprintf(&b, "!! %s: %v\n", h.Cards[i].Key, err)
			continue
		}
		for _, img := range imgs {
			b.WriteString(strings.TrimRight(img, " "))
			b.WriteByte('\n')
		}
	}
	return b.String()
}
