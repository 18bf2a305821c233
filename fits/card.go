package fits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// CardLen is the length of one header card and BlockLen the FITS block size.
const (
	CardLen  = 80
	BlockLen = 2880
)

// Kind is the type of a card's value.
type Kind uint8

const (
	KindNone   Kind = iota // commentary card, or a keyword with an undefined value
	KindString             // 'text'
	KindBool               // T or F
	KindInt                // integer
	KindFloat              // real number
	KindOther              // a value we keep but do not interpret (complex numbers)
)

// Card is one header keyword record. Cards read from a file keep their
// original bytes, so an unmodified header is written back byte for byte;
// a card built or changed here is formatted the way astropy 5.2 formats it,
// which is what the raw MODS headers were written with.
type Card struct {
	Key      string // upper-case keyword; for HIERARCH cards the name after "HIERARCH "
	Hierarch bool
	Kind     Kind
	Str      string // KindString (trailing blanks removed), KindOther (the raw value text)
	Bool     bool
	Int      int64
	Float    float64
	Comment  string
	// raw holds the original 80-byte images (more than one for a long string
	// continued on CONTINUE cards); nil for a new or modified card.
	raw []string
	// text is the value as written, which astropy reuses when only the
	// comment of a card changes: for a real its value text (astropy's
	// _valuestring: the number, and the blanks up to a comment's '/' when
	// it has no exponent), for a one-card string its content with trailing
	// blanks. Header.Set carries it over; format uses it while it still
	// agrees with the value.
	text string
}

// IsCommentary reports whether the card is COMMENT, HISTORY or a blank
// keyword: cards astropy never treats as keyword/value pairs.
func (c *Card) IsCommentary() bool {
	return !c.Hierarch && (c.Key == "COMMENT" || c.Key == "HISTORY" || c.Key == "")
}

// StringCard and its siblings build new cards.
func StringCard(key, value, comment string) Card {
	return Card{Key: key, Kind: KindString, Str: value, Comment: comment}
}

// IntCard builds an integer card.
func IntCard(key string, value int64, comment string) Card {
	return Card{Key: key, Kind: KindInt, Int: value, Comment: comment}
}

// FloatCard builds a real-valued card.
func FloatCard(key string, value float64, comment string) Card {
	return Card{Key: key, Kind: KindFloat, Float: value, Comment: comment}
}

// BoolCard builds a logical card.
func BoolCard(key string, value bool, comment string) Card {
	return Card{Key: key, Kind: KindBool, Bool: value, Comment: comment}
}

// CommentCard builds a COMMENT, HISTORY or blank-keyword card.
func CommentCard(key, text string) Card {
	return Card{Key: key, Comment: text}
}

// ValueString renders the value for messages and dumps.
func (c *Card) ValueString() string {
	switch c.Kind {
	case KindString, KindOther:
		return c.Str
	case KindBool:
		if c.Bool {
			return "T"
		}
		return "F"
	case KindInt:
		return strconv.FormatInt(c.Int, 10)
	case KindFloat:
		return formatFloat(c.Float)
	}
	return ""
}

// Number returns the value of a numeric card as float64.
func (c *Card) Number() (float64, bool) {
	switch c.Kind {
	case KindInt:
		return float64(c.Int), true
	case KindFloat:
		return c.Float, true
	}
	return 0, false
}

var errCard = errors.New("malformed card")

// parseCard parses one 80-byte card image. It never fails on the value: a
// value it cannot interpret is kept as KindOther so the card survives a round
// trip. It fails only on bytes that are not printable ASCII, which FITS forbids
// in headers.
func parseCard(img string) (Card, error) {
	if len(img) != CardLen {
		return Card{}, fmt.Errorf("%w: %d bytes, not %d", errCard, len(img), CardLen)
	}
	for i := 0; i < CardLen; i++ {
		if b := img[i]; b < 0x20 || b > 0x7e {
			return Card{}, fmt.Errorf("%w: byte 0x%02x at column %d", errCard, b, i+1)
		}
	}
	c := Card{raw: []string{img}}
	key := strings.TrimRight(img[:8], " ")
	switch {
	case key == "HIERARCH":
		eq := strings.IndexByte(img[8:], '=')
		if eq < 0 {
			// A HIERARCH card without '=' is commentary in astropy's reading.
			c.Key = key
			c.Comment = strings.TrimRight(img[8:], " ")
			return c, nil
		}
		c.Hierarch = true
		c.Key = strings.ToUpper(strings.TrimSpace(img[8 : 8+eq]))
		parseValue(&c, img[8+eq+1:])
		return c, nil
	case key == "COMMENT" || key == "HISTORY" || key == "" || key == "CONTINUE" || img[8:10] != "= ":
		c.Key = strings.ToUpper(key)
		c.Comment = strings.TrimRight(img[8:], " ")
		return c, nil
	}
	c.Key = strings.ToUpper(key)
	parseValue(&c, img[10:])
	return c, nil
}

// parseValue reads the value and comment field of a value card.
func parseValue(c *Card, field string) {
	s := strings.TrimLeft(field, " ")
	if s == "" || s[0] == '/' {
		c.Kind = KindNone
		if s != "" {
			c.Comment = strings.TrimSpace(s[1:])
		}
		return
	}
	if s[0] == '\'' {
		val, rest, ok := scanQuoted(s)
		if ok {
			c.Kind = KindString
			c.Str = strings.TrimRight(val, " ")
			c.text = val
			c.Comment = commentOf(rest)
			return
		}
		c.Kind = KindOther
		c.Str = strings.TrimRight(s, " ")
		return
	}
	tok, rest := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		tok, rest = s[:i], s[i:]
	}
	tok = strings.TrimRight(tok, " ")
	c.Comment = commentOf(rest)
	switch {
	case tok == "T" || tok == "F":
		c.Kind, c.Bool = KindBool, tok == "T"
	case isInt(tok):
		if v, err := strconv.ParseInt(tok, 10, 64); err == nil {
			c.Kind, c.Int = KindInt, v
			return
		}
		fallthrough
	default:
		if v, ok := parseReal(tok); ok {
			c.Kind, c.Float, c.text = KindFloat, v, tok
			// astropy's number pattern ends with " *" before an optional
			// exponent, so without one it keeps the blanks up to the '/'.
			if rest != "" && !strings.ContainsAny(tok, "EeDd") {
				c.text = s[:len(s)-len(rest)]
			}
			return
		}
		c.Kind, c.Str = KindOther, tok
	}
}

// scanQuoted reads a FITS string starting at the opening quote; ” inside
// the string stands for one quote.
func scanQuoted(s string) (val, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

func commentOf(rest string) string {
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, "/") {
		return ""
	}
	return strings.TrimSpace(rest[1:])
}

func isInt(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseReal accepts the FITS real-number forms, including the Fortran 'D'
// exponent, and rejects the words strconv would take (Inf, NaN, hex).
func parseReal(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= '0' && b <= '9', b == '.', b == '+', b == '-', b == 'E', b == 'e', b == 'D', b == 'd':
		default:
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(strings.NewReplacer("D", "E", "d", "E").Replace(s), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// formatFloat renders a float the way astropy 5.2 writes it in a card:
// 16 significant digits (%.16G), ".0" added to integral values, two-digit
// exponents, at most 20 characters.
func formatFloat(v float64) string {
	s := strconv.FormatFloat(v, 'G', 16, 64)
	if i := strings.IndexByte(s, 'E'); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := ""
		if exp[0] == '+' || exp[0] == '-' {
			sign, exp = exp[:1], exp[1:]
		}
		n, _ := strconv.Atoi(exp)
		s = fmt.Sprintf("%sE%s%02d", mant, sign, n)
	} else if !strings.Contains(s, ".") {
		s += ".0"
	}
	if len(s) > 20 {
		if i := strings.IndexByte(s, 'E'); i >= 0 {
			s = s[:20-(len(s)-i)] + s[i:]
		} else {
			s = s[:20]
		}
	}
	return s
}

// Images returns the card's 80-byte images: the original bytes for an
// unmodified card, else a fresh formatting.
func (c *Card) Images() ([]string, error) {
	if c.raw != nil {
		return c.raw, nil
	}
	return c.format()
}

func (c *Card) format() ([]string, error) {
	if err := checkText(c.Key + c.Str + c.Comment); err != nil {
		return nil, fmt.Errorf("card %s: %w", c.Key, err)
	}
	if c.IsCommentary() || c.Key == "CONTINUE" {
		if c.Hierarch || len(c.Key) > 8 {
			return nil, fmt.Errorf("card %s: commentary keyword too long", c.Key)
		}
		return splitCommentary(c.Key, c.Comment), nil
	}
	if !c.Hierarch && !validKey(c.Key) {
		return nil, fmt.Errorf("card %q: not a valid FITS keyword", c.Key)
	}
	head := fmt.Sprintf("%-8s= ", c.Key)
	if c.Hierarch {
		head = "HIERARCH " + c.Key + " = "
	}
	var val string
	switch c.Kind {
	case KindNone:
		val = ""
	case KindString:
		str := c.Str
		if strings.TrimRight(c.text, " ") == c.Str {
			str = c.text // astropy keeps the trailing blanks it read
		}
		quoted := "'" + pad8(strings.ReplaceAll(str, "'", "''")) + "'"
		if len(head)+len(quoted) > CardLen {
			return c.formatLong(head)
		}
		val = fmt.Sprintf("%-20s", quoted)
		if str == "" {
			val = "''" // astropy writes an empty string bare, unpadded
		}
	case KindBool:
		val = fmt.Sprintf("%20s", c.ValueString())
	case KindInt, KindFloat:
		if c.Kind == KindFloat && (math.IsInf(c.Float, 0) || math.IsNaN(c.Float)) {
			return nil, fmt.Errorf("card %s: %v cannot be written in FITS", c.Key, c.Float)
		}
		val = fmt.Sprintf("%20s", c.ValueString())
		if c.Kind == KindFloat && c.text != "" {
			if v, ok := parseReal(strings.TrimRight(c.text, " ")); ok && v == c.Float {
				val = fmt.Sprintf("%20s", c.text) // astropy keeps a real's text
			}
		}
	case KindOther:
		val = fmt.Sprintf("%20s", c.Str)
	}
	if c.Hierarch {
		// astropy strips the value of a HIERARCH card to save room.
		val = strings.TrimSpace(val)
	}
	img := head + val
	if c.Comment != "" {
		img += " / " + c.Comment
	}
	if len(img) > CardLen {
		if len(head+val) > CardLen {
			return nil, fmt.Errorf("card %s: value does not fit in one card", c.Key)
		}
		img = img[:CardLen] // astropy truncates an overlong comment, so do we
	}
	return []string{fmt.Sprintf("%-80s", img)}, nil
}

// formatLong writes a string too long for one card with the CONTINUE
// convention exactly as astropy does: the value in word-aligned pieces of at
// most 67 characters, each but the last ending with '&', and a comment on
// CONTINUE cards of its own in pieces of at most 64.
func (c *Card) formatLong(head string) ([]string, error) {
	if c.Hierarch {
		return nil, fmt.Errorf("card %s: long HIERARCH strings are not supported", c.Key)
	}
	pieces := wordsGroup(strings.ReplaceAll(c.Str, "'", "''"), 67, true)
	var imgs []string
	for i, p := range pieces {
		prefix := "CONTINUE  "
		if i == 0 {
			prefix = head
		}
		format := "'%s&'"
		if c.Comment == "" && i == len(pieces)-1 {
			format = "'%s'"
		}
		imgs = append(imgs, prefix+fmt.Sprintf(format, p))
	}
	if c.Comment != "" {
		words := wordsGroup(c.Comment, 64, false)
		for i, w := range words {
			prefix := "CONTINUE  '&' / "
			if i == len(words)-1 {
				prefix = "CONTINUE  '' / "
			}
			imgs = append(imgs, prefix+w)
		}
	}
	for i, img := range imgs {
		if len(img) > CardLen {
			return nil, fmt.Errorf("card %s: long string does not fit", c.Key)
		}
		imgs[i] = fmt.Sprintf("%-80s", img)
	}
	return imgs, nil
}

// wordsGroup splits s into pieces of at most width characters, each ending
// after the last blank before the limit (with a blank assumed after the end
// of s), and inside a word only when no blank is in reach: astropy's
// _words_group, so long cards break where astropy breaks them.
//
// With pairs set, s is an escaped FITS string whose quotes come in pairs,
// and no piece ends between the two quotes of a pair (astropy would split
// one, which reads back as two quotes).
func wordsGroup(s string, width int, pairs bool) []string {
	t := s + " "
	var out []string
	for start := 0; ; {
		end := strings.LastIndexByte(t[:min(start+width, len(t))], ' ') + 1
		if end <= start {
			end = min(start+width, len(s))
		}
		if pairs && end < len(s) {
			run := 0
			for i := end - 1; i >= start && s[i] == '\''; i-- {
				run++
			}
			if run%2 == 1 {
				end--
			}
		}
		out = append(out, s[start:min(end, len(s))])
		if end >= len(s) {
			return out
		}
		start = end
	}
}

func chunk(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func splitCommentary(key, text string) []string {
	var imgs []string
	for _, part := range chunk(text, 72) {
		imgs = append(imgs, fmt.Sprintf("%-8s%-72s", key, part))
	}
	return imgs
}

func pad8(s string) string {
	if len(s) < 8 {
		return s + strings.Repeat(" ", 8-len(s))
	}
	return s
}

func validKey(k string) bool {
	if k == "" || len(k) > 8 {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch b := k[i]; {
		case b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

func checkText(s string) error {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b > 0x7e {
			return fmt.Errorf("byte 0x%02x is not printable ASCII", b)
		}
	}
	return nil
}
