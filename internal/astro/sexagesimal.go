package astro

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseSexagesimal reads an angle as astropy's Angle(value, unit) does for the strings MODS headers carry:
// "02:42:40.771", "02 42 40.771", "2h42m40.771s", "-00:00:47.84", "67:48:51.2", "12d30m15.5s", "67.8142". A leading
// sign negates the whole angle, so "-00:00:47.84" is negative although its first field is zero. The result is in
// the input's own unit, hours or degrees: the caller knows which, and a unit letter in the string is only a
// separator. Minutes and seconds must be below 60. Also accepted, as astropy does: a unit after any of the plain or
// colon forms ("1.5h"), unit words (hr, deg, min, sec…), the symbols ° ′ ″ ʰ ᵐ ˢ ' ", and the minus sign U+2212.
// Unlike astropy, a decimal may have an exponent without a point ("1e-5"); compass letters (N, S, E, W) and other
// units are refused.
func ParseSexagesimal(s string) (float64, error) {
	v, err := parseSexagesimal(s)
	if err != nil {
		return 0, fmt.Errorf("bad angle %q: %w", s, err)
	}
	return v, nil
}

type angleToken struct {
	kind byte // 'n' number, ':' colon, 'u' hour or degree, 'm' minute, 's' second
	text string
}

func parseSexagesimal(s string) (float64, error) {
	neg, toks, err := lexAngle(s)
	if err != nil {
		return 0, err
	}
	var shape strings.Builder
	var nums []string
	for _, t := range toks {
		shape.WriteByte(t.kind)
		if t.kind == 'n' {
			nums = append(nums, t.text)
		}
	}
	switch strings.TrimSuffix(shape.String(), "u") {
	case "n", "n:n", "n:n:n", "nn", "nnn":
	default:
		// Only astropy's letter forms remain: 1h, 1h30, 1h30m, 1h30.5m, 1h30m15, 1h30m15s.
		switch shape.String() {
		case "nun", "nunm", "nunmn", "nunmns":
		default:
			return 0, errors.New("not a sexagesimal or decimal angle")
		}
	}
	// astropy takes a fraction only in the last field: "1.5:30" is not 1°30′ plus something.
	for _, n := range nums[:len(nums)-1] {
		if !allDigits(n) {
			return 0, fmt.Errorf("field %q before the last must be a whole number", n)
		}
	}
	var f [3]float64
	for i, n := range nums {
		x, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsInf(x, 0) {
			return 0, fmt.Errorf("number %q out of range", n)
		}
		f[i] = x
	}
	if f[1] >= 60 {
		return 0, fmt.Errorf("minutes %s not below 60", nums[1])
	}
	if f[2] >= 60 {
		return 0, fmt.Errorf("seconds %s not below 60", nums[2])
	}
	v := f[0] + f[1]/60 + f[2]/3600
	if math.IsInf(v, 0) {
		return 0, errors.New("value out of range")
	}
	if neg {
		v = -v
	}
	return v, nil
}

// lexAngle splits an angle into astropy's tokens. Spaces separate tokens and are otherwise ignored; a sign is
// allowed only first.
func lexAngle(s string) (neg bool, toks []angleToken, err error) {
	s = strings.TrimLeft(s, " \t")
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "−"):
		neg, s = true, s[len("−"):]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	for s != "" {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == ' ' || r == '\t':
			s = s[size:]
		case r == ':':
			toks = append(toks, angleToken{kind: ':', text: ":"})
			s = s[size:]
		case r == '.' || ('0' <= r && r <= '9'):
			n := numberLen(s)
			if n == 0 {
				return false, nil, fmt.Errorf("malformed number at %q", s)
			}
			toks = append(toks, angleToken{kind: 'n', text: s[:n]})
			s = s[n:]
		case unicode.IsLetter(r):
			n := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
			if n < 0 {
				n = len(s)
			}
			kind, ok := unitWords[s[:n]]
			if !ok {
				return false, nil, fmt.Errorf("unknown unit %q", s[:n])
			}
			toks = append(toks, angleToken{kind: kind, text: s[:n]})
			s = s[n:]
		default:
			kind, ok := unitSymbols[r]
			if !ok {
				return false, nil, fmt.Errorf("unexpected %q", r)
			}
			toks = append(toks, angleToken{kind: kind, text: string(r)})
			s = s[size:]
		}
	}
	if len(toks) == 0 {
		return false, nil, errors.New("empty")
	}
	return neg, toks, nil
}

var unitWords = map[string]byte{
	"h": 'u', "hr": 'u', "hour": 'u', "hours": 'u', "ʰ": 'u',
	"d": 'u', "deg": 'u', "degree": 'u', "degrees": 'u',
	"m": 'm', "min": 'm', "minute": 'm', "minutes": 'm', "ᵐ": 'm',
	"s": 's', "sec": 's', "second": 's', "seconds": 's', "ˢ": 's',
}

var unitSymbols = map[rune]byte{'°': 'u', '′': 'm', '\'': 'm', '″': 's', '"': 's'}

// numberLen measures a decimal at the start of s: digits with an optional point and fraction (at least one digit
// in all), then an optional exponent. It returns 0 if there is none.
func numberLen(s string) int {
	i := 0
	digits := func() int {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - j
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			i = j // a lone "e" is not an exponent; the lexer will reject it as a unit
		}
	}
	return i
}
