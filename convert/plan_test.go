package convert

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/wick-ml/wick/io/gguf"
)

// vocabularyPlan is the fixture's plan with a vocabulary-sized metadata
// array of strings and one of integers, as JSON.
func vocabularyPlan(t testing.TB, n int) []byte {
	fx := fixture{dir: t.TempDir()}
	p := fx.plan("Q8_0")
	rng := rand.New(rand.NewPCG(41, 42))
	tokens, types := make([]string, n), make([]int32, n)
	pieces := []string{"Ġ", "a", "the", "é", "中", "\"", "\\", "\n", "Ċ", "𝄞"} // no < > &: KV.MarshalJSON escapes them, Python does not
	for i := range tokens {
		var sb strings.Builder
		for k := rng.IntN(4); k >= 0; k-- {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		tokens[i], types[i] = fmt.Sprint(sb.String(), i), int32(1+rng.IntN(6))
	}
	p.Metadata = append(p.Metadata, gguf.KV{Key: "tokenizer.ggml.tokens", Value: gguf.Array(tokens)},
		gguf.KV{Key: "tokenizer.ggml.token_type", Value: gguf.Array(types)})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParsePlanMetadataApart: ParsePlan, which decodes the metadata apart
// from the rest (gguf.CutMember), gives what encoding/json gives for the
// whole plan, and the same errors for a bad metadata entry or bad JSON
// elsewhere.
func TestParsePlanMetadataApart(t *testing.T) {
	b := vocabularyPlan(t, 5000)
	got, err := ParsePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	var want Plan
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatal("ParsePlan and encoding/json decode the plan differently")
	}
	if _, _, ok := gguf.CutMember(b, "metadata"); !ok {
		t.Fatal("the plan did not take the fast path")
	}
	for _, bad := range []string{
		strings.Replace(string(b), `"value":7`, `"value":-7`, 1),            // x.n is a UINT32
		strings.Replace(string(b), `"alignment":32`, `"alignment":"32"`, 1), // outside the metadata
		strings.Replace(string(b), `"element_type":"STRING"`, `"element_type":"S"`, 1),
		string(b) + "}",
	} {
		if bad == string(b) {
			t.Fatal("the mutation did not apply")
		}
		_, err := ParsePlan([]byte(bad))
		var p Plan
		want := planErr("", "%v", json.Unmarshal([]byte(bad), &p))
		if err == nil || err.Error() != want.Error() {
			t.Errorf("got %v, want %v", err, want)
		}
	}
}

// BenchmarkParsePlan: a plan with a 128K-token vocabulary (its strings and
// token types; real plans also carry the merges).
func BenchmarkParsePlan(b *testing.B) {
	buf := vocabularyPlan(b, 128256)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParsePlan(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePlanFile parses the plan saved in $WICK_PLAN_FILE (skipped
// when unset), e.g. the one `wick convert` builds for the synthetic 1B model:
//
//	.venv/bin/python -c "from wick.convert import build_plan; open('/tmp/plan.json','wb').write(build_plan('/work/bench-cache/synth-1b','Q4_K_M').to_json_bytes())"
//	WICK_PLAN_FILE=/tmp/plan.json go test -run '^$' -bench ParsePlanFile ./convert
func BenchmarkParsePlanFile(b *testing.B) {
	name := os.Getenv("WICK_PLAN_FILE")
	if name == "" {
		b.Skip("WICK_PLAN_FILE is not set")
	}
	buf, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParsePlan(buf); err != nil {
			b.Fatal(err)
		}
	}
}
