package convert

import (
	"math"
	"testing"
)

// The expected strings are Python 3.11's repr() and json.dumps() of the
// same values.
func TestPyFloatRepr(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0.05192120745778084, "0.05192120745778084"}, {0.5, "0.5"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
		{1e16, "1e+16"}, {1234567890123456.0, "1234567890123456.0"}, {123456789012345678.0, "1.2345678901234568e+17"},
		{math.Copysign(0, -1), "-0.0"}, {3.0, "3.0"}, {1.5e-7, "1.5e-07"}, {2.5e+20, "2.5e+20"}, {0.1, "0.1"},
		{65504.0, "65504.0"}, {1e22, "1e+22"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{float64(float32(0.052475929)), "0.052475929260253906"}, {100.0, "100.0"}, {-2.5e-5, "-2.5e-05"},
	} {
		if got := pyFloatRepr(c.f); got != c.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestPyJSONString(t *testing.T) {
	got := pyJSONString("a\x7fé\U0001F600\t\x01\"\\")
	want := `"a\u007f\u00e9\ud83d\ude00\t\u0001\"\\"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestIndexJSON(t *testing.T) {
	got := string(indexJSON(3175168, 1911411, map[string]string{"b.weight": "model-00002-of-00002.safetensors", "a.weight": "model-00001-of-00002.safetensors"}))
	want := "{\n  \"metadata\": {\n    \"total_parameters\": 3175168,\n    \"total_size\": 1911411\n  },\n  \"weight_map\": {\n" +
		"    \"a.weight\": \"model-00001-of-00002.safetensors\",\n    \"b.weight\": \"model-00002-of-00002.safetensors\"\n  }\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
