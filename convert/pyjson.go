package convert

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// The JSON texts of a Hugging Face model directory are written by Python's
// json module; these helpers produce the same bytes.

// pyFloatRepr formats f as Python's repr(float) (and json.dumps) does: the
// shortest digits that read back as f, in positional notation when the
// decimal exponent is in [-4, 16), else as d.ddde±XX; integral values keep
// a ".0".
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, shortest
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := e + 1 // f = 0.digits × 10^decpt
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			return sign + "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			return sign + digits[:decpt] + "." + digits[decpt:]
		}
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if e < 0 {
		es, e = "-", -e
	}
	ed := strconv.Itoa(e)
	if len(ed) < 2 {
		ed = "0" + ed
	}
	return sign + m + "e" + es + ed
}

// pyJSONString quotes s as json.dumps does with ensure_ascii (the default):
// non-ASCII characters as \uXXXX (surrogate pairs beyond the BMP).
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r < 0x10000):
			b.WriteString(`\u` + hex4(uint16(r)))
		case r >= 0x10000:
			hi, lo := utf16.EncodeRune(r)
			b.WriteString(`\u` + hex4(uint16(hi)) + `\u` + hex4(uint16(lo)))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hex4(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

// indexJSON is model.safetensors.index.json as transformers' save_pretrained
// writes it: json.dumps(index, indent=2, sort_keys=True) and a newline.
func indexJSON(totalParameters, totalSize int64, weightMap map[string]string) []byte {
	var b strings.Builder
	b.WriteString("{\n  \"metadata\": {\n    \"total_parameters\": ")
	b.WriteString(strconv.FormatInt(totalParameters, 10))
	b.WriteString(",\n    \"total_size\": ")
	b.WriteString(strconv.FormatInt(totalSize, 10))
	b.WriteString("\n  },\n  \"weight_map\": {")
	names := make([]string, 0, len(weightMap))
	for n := range weightMap {
		names = append(names, n)
	}
	sort.Strings(names) // byte order of UTF-8 is code-point order, as Python sorts
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.WriteString(pyJSONString(n))
		b.WriteString(": ")
		b.WriteString(pyJSONString(weightMap[n]))
	}
	if len(names) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("}\n}\n")
	return []byte(b.String())
}
