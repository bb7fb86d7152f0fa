package quant

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A test-only reader for numpy .npz archives (a zip of .npy files), enough
// for the bitsandbytes goldens: little-endian or byte-sized dtypes, C order.

type npyArray struct {
	descr string // numpy dtype string, e.g. "<f4", "|u1", "<i2"
	shape []int
	data  []byte
}

func (a npyArray) len() int {
	n := 1
	for _, d := range a.shape {
		n *= d
	}
	return n
}

func (a npyArray) f32() []float32 {
	if a.descr != "<f4" {
		panic("npy: " + a.descr + " is not <f4")
	}
	out := make([]float32, a.len())
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.data[4*i:]))
	}
	return out
}

func (a npyArray) u8() []uint8 {
	if a.descr != "|u1" {
		panic("npy: " + a.descr + " is not |u1")
	}
	return a.data[:a.len()]
}

// u16 returns 2-byte integers (int16 bit patterns included) as uint16.
func (a npyArray) u16() []uint16 {
	if a.descr != "<i2" && a.descr != "<u2" {
		panic("npy: " + a.descr + " is not a 2-byte integer")
	}
	out := make([]uint16, a.len())
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(a.data[2*i:])
	}
	return out
}

var (
	npyDescrRe = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	npyOrderRe = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	npyShapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

func parseNPY(b []byte) (npyArray, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return npyArray{}, fmt.Errorf("npy: bad magic")
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	case 2, 3:
		if len(b) < 12 {
			return npyArray{}, fmt.Errorf("npy: short header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	default:
		return npyArray{}, fmt.Errorf("npy: version %d", b[6])
	}
	if off+hlen > len(b) {
		return npyArray{}, fmt.Errorf("npy: header runs past the file")
	}
	h := string(b[off : off+hlen])
	d, o, s := npyDescrRe.FindStringSubmatch(h), npyOrderRe.FindStringSubmatch(h), npyShapeRe.FindStringSubmatch(h)
	if d == nil || o == nil || s == nil {
		return npyArray{}, fmt.Errorf("npy: cannot parse header %q", h)
	}
	if o[1] != "False" {
		return npyArray{}, fmt.Errorf("npy: fortran order")
	}
	a := npyArray{descr: d[1], data: b[off+hlen:]}
	for _, f := range strings.Split(s[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return npyArray{}, fmt.Errorf("npy: shape %q", s[1])
		}
		a.shape = append(a.shape, v)
	}
	size, ok := map[string]int{"<f4": 4, "|u1": 1, "<i2": 2, "<u2": 2}[a.descr]
	if !ok {
		return npyArray{}, fmt.Errorf("npy: unsupported dtype %s", a.descr)
	}
	if len(a.data) != a.len()*size {
		return npyArray{}, fmt.Errorf("npy: %d data bytes for shape %v of %s", len(a.data), a.shape, a.descr)
	}
	return a, nil
}

// readNPZ returns the arrays of an .npz file by key (member name without
// ".npy").
func readNPZ(path string) (map[string]npyArray, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out := map[string]npyArray{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		a, err := parseNPY(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = a
	}
	return out, nil
}

func TestParseNPY(t *testing.T) {
	// A hand-made v1 file: 3 float32 values 1, -2, 0.5 of shape (3,).
	header := "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
	header += strings.Repeat(" ", 128-10-1-len(header)) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), 0)
	b = append(b, header...)
	for _, v := range []float32{1, -2, 0.5} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	a, err := parseNPY(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.f32(); len(got) != 3 || got[0] != 1 || got[1] != -2 || got[2] != 0.5 {
		t.Fatalf("got %v", got)
	}
	if _, err := parseNPY(b[:len(b)-1]); err == nil {
		t.Fatal("truncated data accepted")
	}
	if _, err := parseNPY(append([]byte("xNUMPY"), b[6:]...)); err == nil {
		t.Fatal("bad magic accepted")
	}
}
