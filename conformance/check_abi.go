package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The abi.* checks read the module itself, before the host loads it.

var (
	sigVoid    = funcType{}
	sigEntry   = funcType{results: []byte{valI32}}
	ronImports = map[string]funcType{
		"input_len":   {results: []byte{valI32}},
		"input_read":  {params: []byte{valI32}},
		"output_set":  {params: []byte{valI32, valI32}},
		"log":         {params: []byte{valI32, valI32, valI32}},
		"object_read": {params: []byte{valI64, valI32, valI32}, results: []byte{valI32}},
	}
)

func (s *suite) parsed() (*wasmModule, outcome, bool) {
	if s.mod != nil {
		return s.mod, outcome{}, true
	}
	m, err := parseWasm(s.wasm)
	if err != nil {
		return nil, failf("%v", err), false
	}
	s.mod = m
	return m, outcome{}, true
}

func (s *suite) checkMarker(context.Context) outcome {
	m, o, ok := s.parsed()
	if !ok {
		return o
	}
	e, found := m.exports["ron_abi_v1"]
	if !found {
		var others []string
		for name := range m.exports {
			if strings.HasPrefix(name, "ron_abi_v") {
				others = append(others, name)
			}
		}
		sort.Strings(others)
		msg := "the module does not export the ABI marker ron_abi_v1"
		if len(others) > 0 {
			msg += fmt.Sprintf(" (it declares %s, which this suite does not know)", strings.Join(others, ", "))
		}
		return failf("%s: export a function ron_abi_v1 with no params and no results "+
			"(Go: //go:wasmexport ron_abi_v1; C: __attribute__((export_name(\"ron_abi_v1\"))) void ron_abi_v1(void) {})", msg)
	}
	if e.kind != kindFunc || !e.typ.is(nil, nil) {
		return failf("ron_abi_v1 must be a function () -> (), it is %s", exportDesc(e))
	}
	return passed()
}

func exportDesc(e wasmExport) string {
	switch e.kind {
	case kindFunc:
		return "a function " + e.typ.String()
	case kindTable:
		return "a table"
	case kindMemory:
		return "a memory"
	case kindGlobal:
		return "a global"
	default:
		return fmt.Sprintf("an export of kind %d", e.kind)
	}
}

func (s *suite) checkExports(context.Context) outcome {
	m, o, ok := s.parsed()
	if !ok {
		return o
	}
	var problems []string
	if e, ok := m.exports["memory"]; !ok {
		problems = append(problems, `no "memory" export (the host reads and writes the plugin's own linear memory)`)
	} else if e.kind != kindMemory {
		problems = append(problems, fmt.Sprintf(`"memory" must be a memory, it is %s`, exportDesc(e)))
	}
	for _, name := range []string{"ron_describe", "ron_validate", "ron_split", "ron_resolve"} {
		e, ok := m.exports[name]
		if !ok {
			if name != "ron_resolve" {
				problems = append(problems, fmt.Sprintf("no %s export (every ABI v1 plugin exports ron_describe, ron_validate and ron_split, each () -> i32)", name))
			}
			continue
		}
		if e.kind != kindFunc || !e.typ.is(sigEntry.params, sigEntry.results) {
			problems = append(problems, fmt.Sprintf("%s must be a function () -> (i32), it is %s", name, exportDesc(e)))
		}
	}
	if e, ok := m.exports["_initialize"]; ok && (e.kind != kindFunc || !e.typ.is(sigVoid.params, sigVoid.results)) {
		problems = append(problems, fmt.Sprintf("_initialize must be a function () -> (), it is %s", exportDesc(e)))
	}
	if len(s.wasm) > s.limits.ModuleBytes {
		problems = append(problems, fmt.Sprintf("the module is %d bytes, the limit is %d", len(s.wasm), s.limits.ModuleBytes))
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "\n"))
	}
	return passed()
}

func (s *suite) checkImports(context.Context) outcome {
	m, o, ok := s.parsed()
	if !ok {
		return o
	}
	var problems []string
	for _, im := range m.imports {
		what := im.module + "." + im.name
		if im.kind != kindFunc {
			problems = append(problems, fmt.Sprintf("%s: only functions may be imported (a plugin defines and exports its own memory and tables)", what))
			continue
		}
		switch im.module {
		case "ron":
			want, known := ronImports[im.name]
			switch {
			case !known:
				problems = append(problems, fmt.Sprintf("%s: not a ron import of ABI v1 (known: input_len, input_read, output_set, log, object_read)", what))
			case !im.typ.is(want.params, want.results):
				problems = append(problems, fmt.Sprintf("%s: signature %s, ABI v1 says %s", what, im.typ, want))
			}
		case "wasi_snapshot_preview1":
		default:
			problems = append(problems, fmt.Sprintf("%s %s: forbidden import; a plugin may import only from the modules ron and wasi_snapshot_preview1", what, im.typ))
		}
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "\n"))
	}
	return passed()
}

// The describe.* checks.

var tldPattern = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

type describeDoc struct {
	TLD      string            `json:"tld"`
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	Summary  string            `json:"summary"`
	Roles    []string          `json:"roles"`
	Features []string          `json:"features"`
	Examples []json.RawMessage `json:"examples"`
}

func (s *suite) checkDescribeShape(ctx context.Context) outcome {
	s.descInput = []byte(`{"abi":1,"host":{"name":"ronhost","version":"conformance"}}`)
	pr := probe{entry: plugins.EntryDescribe, label: "the describe input", input: s.descInput}
	res, err := s.call(ctx, pr, false)
	if err != nil {
		return failf("ron_describe failed: %s%s", faultText(err), inOnly(pr))
	}
	if res.Status != 0 {
		return failf("ron_describe answered status %d; it must answer 0%s", res.Status, inOut(pr, res))
	}
	m, err := decodeObject(res.Output)
	if err != nil {
		return failf("ron_describe's output must be a JSON object: %v%s", err, inOut(pr, res))
	}
	var problems []string
	str := func(key string, nonEmpty bool) string {
		raw, ok := m[key]
		if !ok {
			problems = append(problems, fmt.Sprintf("%q is missing", key))
			return ""
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			problems = append(problems, fmt.Sprintf("%q must be a string, it is %s", key, show(raw)))
			return ""
		}
		if nonEmpty && strings.TrimSpace(v) == "" {
			problems = append(problems, fmt.Sprintf("%q is empty", key))
		}
		return v
	}
	strs := func(key string, required bool) []string {
		raw, ok := m[key]
		if !ok {
			if required {
				problems = append(problems, fmt.Sprintf("%q is missing", key))
			}
			return nil
		}
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil {
			problems = append(problems, fmt.Sprintf("%q must be an array of strings, it is %s", key, show(raw)))
		}
		return v
	}
	d := describeDoc{
		TLD: str("tld", true), Name: str("name", true), Version: str("version", true), Summary: str("summary", false),
		Roles: strs("roles", true), Features: strs("features", false),
	}
	if d.TLD != "" && !tldPattern.MatchString(d.TLD) {
		problems = append(problems, fmt.Sprintf("tld %q must match [a-z0-9-]{1,32}", d.TLD))
	}
	if _, ok := m["roles"]; ok && len(d.Roles) == 0 {
		problems = append(problems, `"roles" is empty: list every role your splits may pay`)
	}
	seen := map[string]bool{}
	for _, r := range d.Roles {
		if strings.TrimSpace(r) == "" || seen[r] {
			problems = append(problems, fmt.Sprintf("role %q is empty or repeated", r))
		}
		seen[r] = true
	}
	// Unknown features are ignored (ABI v1 §3); a module may export
	// ron_resolve without declaring it, and then it is never called.
	if _, exportsResolve := s.mod.exportsFunc("ron_resolve"); slices.Contains(d.Features, "resolve") && !exportsResolve {
		problems = append(problems, `"features" lists "resolve" but the module does not export ron_resolve`)
	}
	if raw, ok := m["examples"]; !ok {
		problems = append(problems, `"examples" is missing: give at least one manifest that ron_validate accepts`)
	} else if err := json.Unmarshal(raw, &d.Examples); err != nil {
		problems = append(problems, fmt.Sprintf(`"examples" must be an array of manifests (JSON objects), it is %s`, show(raw)))
	} else if len(d.Examples) == 0 {
		problems = append(problems, `"examples" is empty: give at least one manifest that ron_validate accepts`)
	}
	for i, ex := range d.Examples {
		if !isJSONObject(ex) {
			problems = append(problems, fmt.Sprintf("examples[%d] must be a manifest (a JSON object), it is %s", i, show(ex)))
		}
	}
	if info := s.p.Info(); len(problems) == 0 && (info.TLD != d.TLD || !slices.Equal(info.Roles, d.Roles)) {
		problems = append(problems, fmt.Sprintf("the answer differs from the one at load (tld %q roles %v then, tld %q roles %v now)", info.TLD, info.Roles, d.TLD, d.Roles))
	}
	s.desc = d
	if len(problems) > 0 {
		return failf("ron_describe's output breaks ABI v1:\n  %s%s", strings.Join(problems, "\n  "), inOut(pr, res))
	}
	return passed()
}

func (m *wasmModule) exportsFunc(name string) (wasmExport, bool) {
	if m == nil {
		return wasmExport{}, false
	}
	e, ok := m.exports[name]
	return e, ok && e.kind == kindFunc
}

// examplesFromDescribe falls back to the host's copy when describe.shape
// could not read them itself.
func (s *suite) exampleManifests() []json.RawMessage {
	if len(s.desc.Examples) > 0 {
		return s.desc.Examples
	}
	return s.p.Info().Examples
}

func (s *suite) roles() []string {
	if len(s.desc.Roles) > 0 {
		return s.desc.Roles
	}
	return s.p.Info().Roles
}

func (s *suite) checkDescribeExamples(ctx context.Context) outcome {
	exs := s.exampleManifests()
	if len(exs) == 0 {
		return failf("describe gives no examples: the suite needs at least one manifest that ron_validate accepts to exercise the plugin")
	}
	var fails []string
	for i, ex := range exs {
		size := s.payloadSize(ex)
		in, err := s.validateInput(ex, size)
		if err != nil {
			fails = append(fails, fmt.Sprintf("examples[%d] is not valid JSON: %v", i, err))
			continue
		}
		pr := probe{entry: plugins.EntryValidate, label: fmt.Sprintf("examples[%d]", i), input: in}
		res, err := s.call(ctx, pr, false)
		if err != nil {
			fails = append(fails, fmt.Sprintf("validating examples[%d] failed: %s%s", i, faultText(err), inOnly(pr)))
			continue
		}
		if res.Status != 0 {
			fails = append(fails, fmt.Sprintf("ron_validate rejected examples[%d] (status %d); every example must be accepted (payload_size %d)%s", i, res.Status, size, inOut(pr, res)))
			continue
		}
		norm, err := checkValidated(res.Output)
		if err != nil {
			fails = append(fails, fmt.Sprintf("ron_validate's output for examples[%d] breaks ABI v1: %v%s", i, err, inOut(pr, res)))
			continue
		}
		s.examples = append(s.examples, example{manifest: ex, size: size, input: in, normalized: norm})
		s.normalized = append(s.normalized, norm)
	}
	if len(fails) > 0 {
		return failf("%s", strings.Join(fails, "\n"))
	}
	return passf("%d examples accepted", len(exs))
}

// checkValidated checks a status-0 output of ron_validate and returns its
// normalized manifest.
func checkValidated(out []byte) (json.RawMessage, error) {
	m, err := decodeObject(out)
	if err != nil {
		return nil, fmt.Errorf(`the output must be {"manifest":{...},"index":{...}}: %v`, err)
	}
	man, ok := m["manifest"]
	if !ok || !isJSONObject(man) {
		return nil, fmt.Errorf(`the output must have "manifest", the normalized manifest as a JSON object`)
	}
	idx, ok := m["index"]
	if !ok || !isJSONObject(idx) {
		return nil, fmt.Errorf(`the output must have "index", a JSON object such as {"title":"...","tags":["..."]}`)
	}
	var ix struct {
		Title *string   `json:"title"`
		Tags  *[]string `json:"tags"`
	}
	if err := json.Unmarshal(idx, &ix); err != nil {
		return nil, fmt.Errorf(`"index" must have a string "title" and an array of strings "tags" when it has them: %v`, err)
	}
	return man, nil
}
