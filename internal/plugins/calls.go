package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
)

// MaxMoney is the largest amount of money in the ABI: 2^53-1 minor units.
const MaxMoney = 1<<53 - 1

// Description is a plugin's answer to ron_describe.
type Description struct {
	TLD      string            `json:"tld"`
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	Summary  string            `json:"summary"`
	Roles    []string          `json:"roles"`
	Features []string          `json:"features"`
	Examples []json.RawMessage `json:"examples"`
}

// HasFeature reports whether describe declared feature f (e.g. "resolve").
func (d Description) HasFeature(f string) bool { return slices.Contains(d.Features, f) }

var tldPattern = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// ValidTLD reports whether s is a TLD name ABI v1 allows: [a-z0-9-]{1,32}.
func ValidTLD(s string) bool { return tldPattern.MatchString(s) }

func parseDescription(out []byte, hasResolve bool) (Description, error) {
	var d Description
	if err := decodeStrict(out, &d); err != nil {
		return d, fmt.Errorf("%w: %v: %s", ErrBadDescribe, err, trim(out))
	}
	var problems []string
	if !tldPattern.MatchString(d.TLD) {
		problems = append(problems, fmt.Sprintf("tld %q is not lowercase [a-z0-9-]{1,32}", d.TLD))
	}
	if d.Name == "" {
		problems = append(problems, "name is empty")
	}
	if d.Version == "" {
		problems = append(problems, "version is empty")
	}
	if len(d.Roles) == 0 {
		problems = append(problems, "roles is empty (list every role a split may pay)")
	}
	seen := map[string]bool{}
	for _, r := range d.Roles {
		if r == "" || seen[r] {
			problems = append(problems, fmt.Sprintf("role %q is empty or repeated", r))
		}
		seen[r] = true
	}
	if len(d.Examples) == 0 {
		problems = append(problems, "examples is empty (give at least one manifest validate accepts)")
	}
	for i, ex := range d.Examples {
		if t := bytes.TrimSpace(ex); len(t) == 0 || t[0] != '{' {
			problems = append(problems, fmt.Sprintf("examples[%d] is not a JSON object", i))
		}
	}
	if d.HasFeature("resolve") && !hasResolve {
		problems = append(problems, "features lists resolve but the module does not export ron_resolve")
	}
	if len(problems) > 0 {
		return d, fmt.Errorf("%w: %s", ErrBadDescribe, joinProblems(problems))
	}
	return d, nil
}

func joinProblems(ps []string) string {
	var b bytes.Buffer
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// ValidateContext is the context of a validate call.
type ValidateContext struct {
	TLD         string `json:"tld"`
	PayloadSize uint64 `json:"payload_size"`
}

// Validated is an accepted manifest, normalized, with its index entry.
type Validated struct {
	Manifest json.RawMessage `json:"manifest"`
	Index    json.RawMessage `json:"index"`
}

// Validate asks the plugin to check and normalize a manifest (JSON form). A
// rejection is a *RejectedError with the plugin's field errors.
//
// For a plugin that declared "dates" the manifest goes in with its dates
// tagged and comes back untagged (dates.go): the Validated manifest is always
// in the host's form.
func (p *Plugin) Validate(ctx context.Context, manifest json.RawMessage, vc ValidateContext) (*Validated, error) {
	if err := p.ensure(ctx); err != nil {
		return nil, err
	}
	m, err := inputJSON(manifest)
	if err != nil {
		return nil, fmt.Errorf("plugins: validate input: %w", err)
	}
	sent, err := p.plugForm(m)
	if err != nil {
		return nil, fmt.Errorf("plugins: validate input: %w", err)
	}
	in, err := json.Marshal(struct {
		Manifest json.RawMessage `json:"manifest"`
		Context  ValidateContext `json:"context"`
	}{sent, vc})
	if err != nil {
		return nil, fmt.Errorf("plugins: validate input: %w", err)
	}
	var v Validated
	var rej *RejectedError
	_, err = p.call(ctx, EntryValidate, in, callOpts{memoize: true, content: m, check: func(r Result) error {
		if r.Status == 1 {
			rej, err = p.rejection(r.Output)
			return err
		}
		v = Validated{}
		if err := decodeStrict(r.Output, &v); err != nil || !isObject(v.Manifest) {
			return fmt.Errorf("want {\"manifest\":{...},\"index\":{...}}, got %s", trim(r.Output))
		}
		if p.dates() {
			m, err := UntagDates(v.Manifest)
			if err != nil {
				return fmt.Errorf("the normalized manifest: %w", err)
			}
			v.Manifest = m
		}
		return hostTablesKept(manifest, v.Manifest)
	}})
	if err != nil {
		return nil, err
	}
	if rej != nil {
		return nil, rej
	}
	return &v, nil
}

// dates reports whether the plugin declared the feature "dates" (ABI v1.1).
func (p *Plugin) dates() bool { return p.Info().HasFeature(FeatureDates) }

// plugForm returns the manifest as the plugin takes it: as it is for a v1
// plugin, with its dates tagged for one that declared "dates".
func (p *Plugin) plugForm(manifest json.RawMessage) (json.RawMessage, error) {
	if !p.dates() {
		return manifest, nil
	}
	return TagDates(manifest)
}

// hostTables are the manifest tables the host owns: a plugin's normalized
// manifest must keep them exactly.
var hostTables = []string{"meta", "payload"}

// inputJSON is m as json.Marshal puts it in a plugin's input: compact (with
// <, > and & escaped). Faults are attributed to those bytes (in the host's
// form, before any date tagging), not to the caller's spelling of them: two
// spellings of one manifest are one content, whose mark holds for both.
func inputJSON(m json.RawMessage) (json.RawMessage, error) {
	b, err := json.Marshal(m)
	return json.RawMessage(b), err
}

// hostTablesKept checks that out keeps in's host-owned tables, compared as
// JSON values with numbers by their digits (as float64, integers above 2^53
// would compare equal to their neighbours).
func hostTablesKept(in, out json.RawMessage) error {
	av, err := decodeNumbers(in)
	a, ok := av.(map[string]any)
	if err != nil || !ok {
		return nil // the input is not an object: nothing the host owns to keep
	}
	bv, err := decodeNumbers(out)
	b, ok := bv.(map[string]any)
	if err != nil {
		return fmt.Errorf("the manifest is not a JSON object: %v", err)
	}
	if !ok {
		return errors.New("the manifest is not a JSON object")
	}
	for _, t := range hostTables {
		if !reflect.DeepEqual(a[t], b[t]) {
			return fmt.Errorf("the normalized manifest changed the host-owned [%s] table", t)
		}
	}
	return nil
}

// rejection decodes a status-1 answer; a malformed one is refused.
func (p *Plugin) rejection(out []byte) (*RejectedError, error) {
	var r struct {
		Errors []FieldError `json:"errors"`
	}
	if err := decodeStrict(out, &r); err != nil || len(r.Errors) == 0 {
		return nil, fmt.Errorf("a rejection must be {\"errors\":[{\"path\",\"code\",\"message\"},...]}, got %s", trim(out))
	}
	return &RejectedError{TLD: p.Info().TLD, Errors: r.Errors}, nil
}

func isObject(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{'
}

// Server is one node that served bytes in an epoch.
type Server struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Usage is what was metered for one manifest in one epoch.
type Usage struct {
	Requests uint64   `json:"requests"`
	Bytes    uint64   `json:"bytes"`
	Servers  []Server `json:"servers"`
}

// SplitInput is the input of ron_split.
type SplitInput struct {
	Manifest json.RawMessage `json:"manifest"`
	Epoch    string          `json:"epoch"`
	Amount   uint64          `json:"amount"`
	Usage    Usage           `json:"usage"`
}

// Allocation is money paid to one payee in one role.
type Allocation struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

// Split asks the plugin how to divide in.Amount. The host checks what the ABI
// promises: amounts sum exactly to in.Amount, none is negative, every role was
// declared by describe and every payee is non-empty; a plugin that breaks a
// promise has faulted.
func (p *Plugin) Split(ctx context.Context, in SplitInput) ([]Allocation, error) {
	if err := p.ensure(ctx); err != nil {
		return nil, err
	}
	if in.Amount > MaxMoney {
		return nil, fmt.Errorf("plugins: split amount %d is over 2^53-1", in.Amount)
	}
	if in.Usage.Servers == nil {
		in.Usage.Servers = []Server{}
	}
	// Faults are attributed to the manifest in the host's form, compact.
	content, err := inputJSON(in.Manifest)
	if err != nil {
		return nil, fmt.Errorf("plugins: split input: %w", err)
	}
	if in.Manifest, err = p.plugForm(content); err != nil {
		return nil, fmt.Errorf("plugins: split input: %w", err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("plugins: split input: %w", err)
	}
	var allocs []Allocation
	var rej *RejectedError
	_, err = p.call(ctx, EntrySplit, b, callOpts{memoize: true, content: content, check: func(r Result) error {
		if r.Status == 1 {
			rej, err = p.rejection(r.Output)
			return err
		}
		allocs, err = CheckSplit(r.Output, in.Amount, p.Info().Roles)
		return err
	}})
	if err != nil {
		return nil, err
	}
	if rej != nil {
		return nil, rej
	}
	return allocs, nil
}

// CheckSplit decodes a split output and checks the ABI's money rules.
func CheckSplit(out []byte, amount uint64, roles []string) ([]Allocation, error) {
	if err := noDuplicateKeys(out); err != nil {
		return nil, err
	}
	var r struct {
		Allocations []json.RawMessage `json:"allocations"`
	}
	if err := decodeStrict(out, &r); err != nil || r.Allocations == nil {
		return nil, fmt.Errorf("want {\"allocations\":[...]}, got %s", trim(out))
	}
	allocs := make([]Allocation, 0, len(r.Allocations))
	var sum uint64
	for i, raw := range r.Allocations {
		var a struct {
			Payee  string      `json:"payee"`
			Role   string      `json:"role"`
			Amount json.Number `json:"amount"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("allocations[%d]: %v", i, err)
		}
		amt, err := parseMoney(a.Amount)
		if err != nil {
			return nil, fmt.Errorf("allocations[%d].amount: %v", i, err)
		}
		if a.Payee == "" {
			return nil, fmt.Errorf("allocations[%d]: empty payee", i)
		}
		if !slices.Contains(roles, a.Role) {
			return nil, fmt.Errorf("allocations[%d]: role %q was not declared by describe (roles: %v)", i, a.Role, roles)
		}
		sum += amt
		if sum > MaxMoney {
			return nil, fmt.Errorf("allocations sum past 2^53-1")
		}
		allocs = append(allocs, Allocation{Payee: a.Payee, Role: a.Role, Amount: amt})
	}
	if sum != amount {
		return nil, fmt.Errorf("allocations sum to %d, the amount is %d (money must be conserved exactly)", sum, amount)
	}
	return allocs, nil
}

func parseMoney(n json.Number) (uint64, error) {
	s := n.String()
	if s == "" {
		return 0, errors.New("missing")
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a non-negative integer", s)
		}
		v = v*10 + uint64(c-'0')
		if v > MaxMoney {
			return 0, fmt.Errorf("%s is over 2^53-1", s)
		}
	}
	return v, nil
}

// ResolveInput is the input of ron_resolve.
type ResolveInput struct {
	Manifest    json.RawMessage `json:"manifest"`
	Path        string          `json:"path"`
	PayloadSize uint64          `json:"payload_size"`
}

// Resolved says which bytes of the payload serve a path.
type Resolved struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Offset      uint64 `json:"offset"`
	Length      uint64 `json:"length"`
}

// Resolve asks the plugin which byte range of the payload serves in.Path;
// the plugin may read the payload through obj. The range is checked to lie
// inside the payload.
//
// A fault marks the manifest for every path, not in.Path alone: content
// crafted to fault (a PMTiles directory that points at itself) has as many
// bad paths as its author likes, and marks per path would let anonymous GETs
// run the plugin to its budget once per path, where a mark per manifest
// costs the author a new manifest (and a fetch) per run. An archive with one
// faulting path is broken content, which its publisher has to fix.
func (p *Plugin) Resolve(ctx context.Context, in ResolveInput, obj io.ReaderAt) (*Resolved, error) {
	if err := p.ensure(ctx); err != nil {
		return nil, err
	}
	if !p.hasResolve || !p.Info().HasFeature("resolve") {
		return nil, fmt.Errorf("%w: %s plugin does not resolve paths", ErrNotSupported, p.Info().TLD)
	}
	// Faults are attributed to the manifest in the host's form, compact.
	content, err := inputJSON(in.Manifest)
	if err != nil {
		return nil, fmt.Errorf("plugins: resolve input: %w", err)
	}
	if in.Manifest, err = p.plugForm(content); err != nil {
		return nil, fmt.Errorf("plugins: resolve input: %w", err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("plugins: resolve input: %w", err)
	}
	var r Resolved
	var rej *RejectedError
	_, err = p.call(ctx, EntryResolve, b, callOpts{obj: obj, content: content, check: func(res Result) error {
		if res.Status == 1 {
			rej, err = p.rejection(res.Output)
			return err
		}
		r = Resolved{}
		if err := noDuplicateKeys(res.Output); err != nil {
			return err
		}
		if err := decodeStrict(res.Output, &r); err != nil {
			return fmt.Errorf("want {\"status\":200,...} or {\"status\":404}, got %s", trim(res.Output))
		}
		switch r.Status {
		case 404:
			r = Resolved{Status: 404}
		case 200:
			if r.Offset > in.PayloadSize || r.Length > in.PayloadSize-r.Offset {
				return fmt.Errorf("range %d+%d is outside the %d-byte payload", r.Offset, r.Length, in.PayloadSize)
			}
		default:
			return fmt.Errorf("status %d (want 200 or 404)", r.Status)
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	if rej != nil {
		return nil, rej
	}
	return &r, nil
}

// noDuplicateKeys refuses JSON with an object that repeats a key: readers
// disagree on which value wins (Go's takes the last), so an answer that
// repeats one means two things.
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next token in this object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // malformed JSON is the decoder's to report
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].obj && stack[top].key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				if top > 0 && stack[top-1].obj {
					stack[top-1].key = true
				}
				continue
			}
			k, _ := tok.(string)
			if stack[top].keys[k] {
				return fmt.Errorf("the key %q appears twice in one object", k)
			}
			stack[top].keys[k] = true
			stack[top].key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim(']'):
			stack = stack[:top]
			top--
		}
		// A value ended: the enclosing object expects a key next.
		if top >= 0 && stack[top].obj {
			stack[top].key = true
		}
	}
}
