package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The validate.* checks.

func (s *suite) checkIdempotent(ctx context.Context) outcome {
	if len(s.examples) == 0 {
		return failf("no example was accepted (see describe.examples), so idempotence cannot be checked")
	}
	for i, ex := range s.examples {
		in, err := s.validateInput(ex.normalized, ex.size)
		if err != nil {
			return failf("the normalized manifest of examples[%d] is not valid JSON: %v", i, err)
		}
		pr := probe{entry: plugins.EntryValidate, label: fmt.Sprintf("the normalized examples[%d]", i), input: in}
		res, err := s.call(ctx, pr, false)
		if err != nil {
			return failf("validating the normalized examples[%d] failed: %s%s", i, faultText(err), inOnly(pr))
		}
		if res.Status != 0 {
			return failf("ron_validate rejected its own normalized manifest of examples[%d]; validating M2 must return M2%s", i, inOut(pr, res))
		}
		again, err := checkValidated(res.Output)
		if err != nil {
			return failf("ron_validate's output breaks ABI v1: %v%s", err, inOut(pr, res))
		}
		if !bytes.Equal(again, ex.normalized) {
			how := "validate(M2) is the same JSON in other bytes (member order, spelling of numbers or strings)"
			if !jsonEqual(again, ex.normalized) {
				how = "validate(M2) is another manifest"
			}
			return failf("normalization is not idempotent for examples[%d]: validating the normalized manifest M2 must return M2 byte for byte; %s\n  M2: %s\n  validate(M2): %s",
				i, how, show(ex.normalized), show(again))
		}
	}
	return passf("%d normalized manifests are fixed points", len(s.examples))
}

// expect runs probes and reports every offence, not only the first, so an
// author sees the whole list in one run. Every probe must answer without a
// fault, and a rejection (status 1) must be a well-formed errors document.
// A strict probe should be rejected: accepting it (status 0) fails the
// check when the host may send that input (the plugin's own table), and
// only warns when the host never sends it (see neverSent), with advice.
func (s *suite) expect(ctx context.Context, what string, probes []probe) outcome {
	ran := 0
	var fails, warns []string
	for _, pr := range probes {
		res, err := s.call(ctx, pr, false)
		if errors.Is(err, errSkipProbe) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return failf("%v", err)
			}
			ran++
			fails = append(fails, fmt.Sprintf("%s must answer %s with status 1 (or 0), never a fault, but got a %s%s", pr.entry, what, faultText(err), inOnly(pr)))
			continue
		}
		ran++
		switch {
		case res.Status == 1:
			if err := checkRejection(res.Output); err != nil {
				fails = append(fails, fmt.Sprintf("%s rejected %s, but %v%s", pr.entry, what, err, inOut(pr, res)))
			}
			continue
		case res.Status == 0 && pr.entry == plugins.EntryValidate:
			if _, err := checkValidated(res.Output); err != nil {
				fails = append(fails, fmt.Sprintf("ron_validate's output breaks ABI v1: %v%s", err, inOut(pr, res)))
				continue
			}
		}
		if res.Status == 0 && pr.strict {
			if why := s.neverSent(pr.entry, pr.input); why != "" {
				warns = append(warns, fmt.Sprintf("%s accepted (status 0) %s: %s (the host never sends it: %s)", pr.entry, what, pr.label, why))
			} else {
				fails = append(fails, fmt.Sprintf("%s accepted (status 0) %s; the host may send this input and the plugin must reject it with status 1%s", pr.entry, what, inOut(pr, res)))
			}
		}
	}
	if ran == 0 {
		return skipf("every input was over the host's input limit")
	}
	return mixed(ran, fails, warns)
}

// mixed is the outcome of a check over many inputs: a failure listing every
// offence (and the warnings after them), else a warning listing each input
// with the advice once, else a pass.
func mixed(ran int, fails, warns []string) outcome {
	var b strings.Builder
	if len(fails) > 0 {
		fmt.Fprintf(&b, "%d of %d inputs failed:", len(fails), ran)
		for _, f := range fails {
			b.WriteString("\n- ")
			b.WriteString(strings.ReplaceAll(f, "\n", "\n  "))
		}
	}
	if len(warns) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "warning: %d inputs accepted that the host never sends:", len(warns))
		for _, w := range warns {
			b.WriteString("\n- ")
			b.WriteString(w)
		}
		b.WriteString("\n  advice: " + adviceNeverSent)
	}
	switch {
	case len(fails) > 0:
		return outcome{status: Fail, msg: b.String()}
	case len(warns) > 0:
		return outcome{status: Warn, msg: b.String()}
	}
	return passf("%d inputs", ran)
}

// baseManifest is the manifest the mutating probes start from.
func (s *suite) baseManifest() json.RawMessage {
	if len(s.examples) > 0 {
		return s.examples[0].manifest
	}
	if exs := s.exampleManifests(); len(exs) > 0 && isJSONObject(exs[0]) {
		return exs[0]
	}
	return json.RawMessage(`{}`)
}

func (s *suite) vprobe(label string, in []byte) probe {
	return probe{entry: plugins.EntryValidate, label: label, input: in, strict: true}
}

func (s *suite) checkGarbage(ctx context.Context) outcome {
	var ps []probe
	ps = append(ps, s.vprobe("empty input", nil))
	for _, n := range []int{1, 2, 7, 64, 512, 4096, 65536} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(s.rng.Uint32())
		}
		ps = append(ps, s.vprobe(fmt.Sprintf("%d random bytes", n), b))
		// Random bytes behind a valid opening, so a parser gets further in.
		ps = append(ps, s.vprobe(fmt.Sprintf(`{"manifest": then %d random bytes`, n), append([]byte(`{"manifest":`), b...)))
	}
	base := s.baseManifest()
	for _, g := range []struct{ label, in string }{
		{"a lone {", `{`},
		{"a lone }", `}`},
		{"nul", `nul`},
		{"a missing value", `{"manifest":}`},
		{"a trailing comma", `{"manifest":{},}`},
		{"single quotes", `{'manifest':{}}`},
		{"a bare word", `manifest`},
		{"NaN", `{"manifest":NaN}`},
	} {
		ps = append(ps, s.vprobe(g.label, []byte(g.in)))
	}
	valid := s.validateRaw(base)
	ps = append(ps,
		s.vprobe("a valid input followed by a second JSON value", append(append([]byte{}, valid...), `{"manifest":{}}`...)),
		s.vprobe("a valid input followed by garbage", append(append([]byte{}, valid...), "\x00\xff}"...)),
		s.vprobe("a valid input with a NUL byte inside", bytes.Replace(valid, []byte(`{"manifest":`), []byte("{\x00\"manifest\":"), 1)),
	)
	return s.expect(ctx, "garbage", ps)
}

func (s *suite) checkTruncated(ctx context.Context) outcome {
	valid := s.validateRaw(s.baseManifest())
	cuts := map[int]bool{len(valid) - 1: true, 1: true}
	for k := 1; k < 16; k++ {
		cuts[len(valid)*k/16] = true
	}
	// Cut inside every string once: the bytes right after each quote.
	for i, c := range valid {
		if c == '"' && i+2 < len(valid) && len(cuts) < 64 {
			cuts[i+2] = true
		}
	}
	var ns []int
	for n := range cuts {
		if n > 0 && n < len(valid) {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	var ps []probe
	for _, n := range ns {
		ps = append(ps, s.vprobe(fmt.Sprintf("the example's input cut to %d of its %d bytes", n, len(valid)), valid[:n]))
	}
	return s.expect(ctx, "truncated JSON", ps)
}

func (s *suite) checkNested(ctx context.Context) outcome {
	const depth = 100000
	arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	base := s.baseManifest()
	return s.expect(ctx, "input nested 100000 deep", []probe{
		s.vprobe("arrays nested 100000 deep as the whole input", []byte(arrays)),
		s.vprobe("arrays nested 100000 deep as the manifest", s.validateRaw([]byte(arrays))),
		s.vprobe("objects nested 100000 deep as the manifest", s.validateRaw([]byte(objects))),
		s.vprobe("arrays nested 100000 deep inside the example manifest", s.validateRaw(addMember(base, "zz_nested", []byte(arrays)))),
		s.vprobe("100000 unclosed [ as the manifest", s.validateRaw([]byte(strings.Repeat("[", depth)))),
		s.vprobe("100000 unclosed {\"a\": as the manifest", s.validateRaw([]byte(strings.Repeat(`{"a":`, depth)))),
	})
}

// addMember returns the object obj with one more member key:val spliced in
// as raw bytes (val may be anything, valid JSON or not).
func addMember(obj []byte, key string, val []byte) []byte {
	k, _ := json.Marshal(key)
	return addRawMember(obj, k, val)
}

// addRawMember is addMember with the member name given as raw JSON bytes
// (quotes included), so a probe can plant bytes json.Marshal would escape.
func addRawMember(obj []byte, k []byte, val []byte) []byte {
	t := bytes.TrimSpace(obj)
	var b bytes.Buffer
	b.WriteString("{")
	b.Write(k)
	b.WriteString(":")
	b.Write(val)
	rest := bytes.TrimSpace(t[1:])
	if len(rest) > 0 && rest[0] != '}' {
		b.WriteString(",")
	}
	b.Write(rest)
	return b.Bytes()
}

func (s *suite) checkHuge(ctx context.Context) outcome {
	const n = 900 << 10
	long := make([]byte, 0, n+2)
	long = append(long, '"')
	for i := 0; len(long) < n+1; i++ {
		long = append(long, byte('a'+i%26))
	}
	long = append(long, '"')
	base := s.baseManifest()
	ps := []probe{
		s.vprobe("a 900 KiB string as the manifest", s.validateRaw(long)),
		s.vprobe("a 900 KiB number as the manifest", s.validateRaw(bytes.Repeat([]byte("9"), n))),
		s.vprobe("the example manifest with a 900 KiB key", s.validateRaw(addMember(base, string(long[1:len(long)-1]), []byte("1")))),
		s.vprobe("the example manifest with an unterminated 900 KiB string", s.validateRaw(addMember(base, "zz_huge", long[:len(long)-1]))),
		s.vprobe("an array of 300000 numbers as the manifest", s.validateRaw(append(append([]byte("["), bytes.Repeat([]byte("1,"), 300000)...), '1', ']'))),
	}
	// A plugin may accept a manifest with one more, huge member; it must
	// not fault on it.
	lenient := s.vprobe("the example manifest with a 900 KiB string member", s.validateRaw(addMember(base, "zz_huge", long)))
	lenient.strict = false
	ps = append(ps, lenient)
	return s.expect(ctx, "a huge input", ps)
}

// marker is a string the mutating probes plant in a manifest, then replace
// in the encoded bytes.
const marker = "ron-conformance-marker-5c9e1d"

// leaf is a value in a decoded manifest: its path and its JSON kind.
type leaf struct {
	path []string // object keys; array elements are not entered
	kind string   // "string", "number", "bool", "object", "array", "null"
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "null"
	}
}

// leaves lists the members of obj down to depth 3, in sorted key order.
func leaves(obj map[string]any, prefix []string, depth int) []leaf {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []leaf
	for _, k := range keys {
		p := append(append([]string{}, prefix...), k)
		out = append(out, leaf{path: p, kind: kindOf(obj[k])})
		if sub, ok := obj[k].(map[string]any); ok && depth > 1 {
			out = append(out, leaves(sub, p, depth-1)...)
		}
	}
	return out
}

func lookup(v any, path []string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// replaced returns a copy of the decoded manifest with the value at path
// set to val, encoded.
func replaced(doc any, path []string, val any) []byte {
	var cp func(v any, path []string) any
	cp = func(v any, path []string) any {
		if len(path) == 0 {
			return val
		}
		m := v.(map[string]any)
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = x
		}
		out[path[0]] = cp(m[path[0]], path[1:])
		return out
	}
	b, _ := json.Marshal(cp(doc, path))
	return b
}

func (s *suite) checkUTF8(ctx context.Context) outcome {
	base := s.baseManifest()
	doc, err := decodeValue(base)
	obj, ok := doc.(map[string]any)
	if err != nil || !ok {
		obj = map[string]any{}
	}
	bad := []struct{ label, bytes string }{
		{"a lone 0xff byte", "\xff"},
		{"a truncated two-byte sequence", "ab\xc3"},
		{"an overlong encoding of /", "\xc0\xaf"},
		{"a UTF-16 surrogate encoded in UTF-8", "\xed\xa0\x80"},
		{"a code point past U+10FFFF", "\xf4\x90\x80\x80"},
	}
	// Plant the bad bytes in the first string the example holds (or in a
	// new member), and once in a key.
	var strPath []string
	for _, l := range leaves(obj, nil, 3) {
		if l.kind == "string" {
			strPath = l.path
			break
		}
	}
	var planted []byte
	if strPath != nil {
		planted = replaced(obj, strPath, marker)
	} else {
		planted = addMember(base, "zz_text", []byte(`"`+marker+`"`))
	}
	where := "a string value"
	if strPath != nil {
		where = strings.Join(strPath, ".")
	}
	var ps []probe
	for _, b := range bad {
		m := bytes.Replace(planted, []byte(marker), []byte("x"+b.bytes+"y"), 1)
		ps = append(ps, s.vprobe(fmt.Sprintf("%s in %s", b.label, where), s.validateRaw(m)))
	}
	ps = append(ps,
		s.vprobe("a lone 0xff byte in a member name", s.validateRaw(addRawMember(base, []byte("\"k\xffk\""), []byte("1")))),
		s.vprobe("a lone 0xfe byte in the context", bytes.Replace(s.validateRaw(base), []byte(`"tld":"`), []byte("\"tld\":\"\xfe"), 1)),
	)
	return s.expect(ctx, "invalid UTF-8", ps)
}

func (s *suite) checkTypes(ctx context.Context) outcome {
	base := s.baseManifest()
	tld, _ := json.Marshal(s.p.Info().TLD)
	var ps []probe
	for _, w := range []struct{ label, in string }{
		{"null as the input", `null`},
		{"an array as the input", `[]`},
		{"a number as the input", `42`},
		{"a string as the input", `"manifest"`},
		{"true as the input", `true`},
		{"an empty object (no manifest)", `{}`},
		{"context as a string", `{"manifest":` + string(base) + `,"context":"x"}`},
		{"context.payload_size as a string", `{"manifest":` + string(base) + `,"context":{"tld":` + string(tld) + `,"payload_size":"12"}}`},
		{"context.payload_size negative", `{"manifest":` + string(base) + `,"context":{"tld":` + string(tld) + `,"payload_size":-1}}`},
		{"context.payload_size a fraction", `{"manifest":` + string(base) + `,"context":{"tld":` + string(tld) + `,"payload_size":1.5}}`},
	} {
		ps = append(ps, s.vprobe(w.label, []byte(w.in)))
	}
	// The context is the host's to give; a plugin may default it when absent.
	lenient := s.vprobe("an input without context", []byte(`{"manifest":`+string(base)+`}`))
	lenient.strict = false
	ps = append(ps, lenient)
	for _, m := range []string{`null`, `[]`, `[{}]`, `42`, `-1`, `1.5`, `"manifest"`, `true`, `false`} {
		ps = append(ps, s.vprobe("manifest "+m, s.validateRaw([]byte(m))))
	}
	// Every member of the example, given a value of the wrong type. A member
	// the normalized manifest keeps must be type-checked (status 1); one it
	// drops may be ignored, but must not cause a fault.
	doc, err := decodeValue(base)
	obj, ok := doc.(map[string]any)
	var norm any
	if len(s.examples) > 0 {
		norm, _ = decodeValue(s.examples[0].normalized)
	}
	if err == nil && ok {
		for _, l := range leaves(obj, nil, 3) {
			var wrong any
			switch l.kind {
			case "string":
				wrong = json.Number("12345")
			case "number":
				wrong = "12345"
			case "bool":
				wrong = "true"
			case "object":
				wrong = []any{json.Number("1")}
			case "array":
				wrong = map[string]any{"x": json.Number("1")}
			default:
				continue
			}
			pr := s.vprobe(fmt.Sprintf("%s: a %s instead of a %s", strings.Join(l.path, "."), kindOf(wrong), l.kind), s.validateRaw(replaced(obj, l.path, wrong)))
			if v, kept := lookup(norm, l.path); !kept || kindOf(v) != l.kind {
				pr.strict = false
			}
			ps = append(ps, pr)
		}
	}
	return s.expect(ctx, "a value of the wrong type", ps)
}
