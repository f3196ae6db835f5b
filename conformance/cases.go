package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
)

// caseFile is one NAME.json in Options.CasesDir. Entry is "validate" (the
// default), "split" or "resolve"; a split or resolve case validates its
// manifest first (it must be accepted) and calls the entry point with the
// normalized manifest, as a node does.
type caseFile struct {
	Entry       string          `json:"entry,omitempty"`
	Manifest    json.RawMessage `json:"manifest"`
	PayloadSize *uint64         `json:"payload_size,omitempty"`
	// split
	Epoch  string          `json:"epoch,omitempty"`
	Amount *uint64         `json:"amount,omitempty"`
	Usage  json.RawMessage `json:"usage,omitempty"`
	// resolve: the path, and the payload object_read reads (text, or a file
	// relative to the cases directory); payload_size defaults to its length.
	Path        *string `json:"path,omitempty"`
	Payload     *string `json:"payload,omitempty"`
	PayloadFile string  `json:"payload_file,omitempty"`

	Expect *caseExpect `json:"expect,omitempty"`
}

type caseExpect struct {
	Manifest    json.RawMessage `json:"manifest,omitempty"`
	Index       json.RawMessage `json:"index,omitempty"`
	Allocations *[]caseAlloc    `json:"allocations,omitempty"` // a pointer: [] is an answer too
	Resolved    json.RawMessage `json:"resolved,omitempty"`
	Errors      []caseError     `json:"errors,omitempty"`
}

type caseAlloc struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

func (a caseAlloc) String() string { return fmt.Sprintf("%s/%s=%d", a.Payee, a.Role, a.Amount) }

type caseError struct {
	Path string `json:"path"`
	Code string `json:"code"`
}

func (e caseError) String() string { return fmt.Sprintf("%s:%s", e.Path, e.Code) }

// loadCase reads and checks one case file.
func loadCase(path string) (*caseFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCases, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c caseFile
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (a case is {\"manifest\":{...},\"payload_size\":N,\"expect\":{\"manifest\":{...}} or {\"errors\":[{\"path\",\"code\"}]}})", ErrBadCases, path, err)
	}
	if !isJSONObject(c.Manifest) {
		return nil, fmt.Errorf("%w: %s: \"manifest\" must be a JSON object", ErrBadCases, path)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadCases, path, fmt.Sprintf(format, args...))
	}
	e := c.Expect
	switch c.Entry {
	case "", "validate":
		if c.Amount != nil || c.Usage != nil || c.Epoch != "" || c.Path != nil || c.Payload != nil || c.PayloadFile != "" {
			return nil, bad("a validate case has no amount, usage, epoch, path or payload (set \"entry\" to split or resolve)")
		}
		if e != nil && ((e.Manifest != nil) == (e.Errors != nil) || e.Allocations != nil || e.Resolved != nil) {
			return nil, bad("\"expect\" must hold either \"manifest\" (the input is accepted) or \"errors\" (it is rejected)")
		}
		if e != nil && e.Index != nil && e.Manifest == nil {
			return nil, bad("\"expect\".\"index\" goes with \"manifest\"")
		}
	case "split":
		if c.Amount == nil {
			return nil, bad("a split case needs \"amount\"")
		}
		if c.Path != nil || c.Payload != nil || c.PayloadFile != "" {
			return nil, bad("a split case has no path or payload")
		}
		if e != nil && ((e.Allocations != nil) == (e.Errors != nil) || e.Manifest != nil || e.Index != nil || e.Resolved != nil) {
			return nil, bad("a split case's \"expect\" holds either \"allocations\" or \"errors\"")
		}
	case "resolve":
		if c.Path == nil {
			return nil, bad("a resolve case needs \"path\"")
		}
		if c.Amount != nil || c.Usage != nil || c.Epoch != "" {
			return nil, bad("a resolve case has no amount, usage or epoch")
		}
		if c.Payload != nil && c.PayloadFile != "" {
			return nil, bad("give \"payload\" or \"payload_file\", not both")
		}
		if e != nil && ((e.Resolved != nil) == (e.Errors != nil) || e.Manifest != nil || e.Index != nil || e.Allocations != nil) {
			return nil, bad("a resolve case's \"expect\" holds either \"resolved\" or \"errors\"")
		}
	default:
		return nil, bad("\"entry\" is validate, split or resolve, not %q", c.Entry)
	}
	return &c, nil
}

// caseNames lists the NAME.json files of dir, sorted.
func caseNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCases, err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	sort.Strings(names)
	return names, nil
}

type namedCase struct {
	name, path string
	c          *caseFile
}

// loadCases reads every case before the run starts, so a typo in a case
// file stops the run at once.
func (s *suite) loadCases() error {
	if s.opts.CasesDir == "" {
		return nil
	}
	names, err := caseNames(s.opts.CasesDir)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: no NAME.json files in %s", ErrBadCases, s.opts.CasesDir)
	}
	for _, name := range names {
		path := filepath.Join(s.opts.CasesDir, name+".json")
		c, err := loadCase(path)
		if err != nil {
			return err
		}
		s.cases = append(s.cases, namedCase{name, path, c})
	}
	return nil
}

func (s *suite) runCases(ctx context.Context) error {
	for _, nc := range s.cases {
		start := time.Now()
		o, err := s.runCase(ctx, nc.path, nc.c)
		if err != nil {
			return err
		}
		s.record("cases."+nc.name, start, o)
	}
	return nil
}

func (s *suite) runCase(ctx context.Context, path string, c *caseFile) (outcome, error) {
	switch c.Entry {
	case "split":
		return s.runSplitCase(ctx, path, c)
	case "resolve":
		return s.runResolveCase(ctx, path, c)
	}
	size := s.payloadSize(c.Manifest)
	if c.PayloadSize != nil {
		size = *c.PayloadSize
	}
	in, err := s.validateInput(c.Manifest, size)
	if err != nil {
		return outcome{}, fmt.Errorf("%w: %s: %v", ErrBadCases, path, err)
	}
	pr := probe{entry: plugins.EntryValidate, label: filepath.Base(path), input: in}
	res, err := s.call(ctx, pr, false)
	if ctx.Err() != nil {
		return outcome{}, ctx.Err()
	}
	if err != nil {
		return failf("ron_validate failed: %s%s", faultText(err), inOnly(pr)), nil
	}
	var got caseExpect
	switch res.Status {
	case 0:
		m, err := decodeObject(res.Output)
		if _, verr := checkValidated(res.Output); err != nil || verr != nil {
			return failf("ron_validate's output breaks ABI v1: %v%s", errors.Join(err, verr), inOut(pr, res)), nil
		}
		got.Manifest, got.Index = m["manifest"], m["index"]
	case 1:
		if err := checkRejection(res.Output); err != nil {
			return failf("%v%s", err, inOut(pr, res)), nil
		}
		var doc struct{ Errors []caseError }
		_ = json.Unmarshal(res.Output, &doc)
		got.Errors = doc.Errors
	}

	if s.opts.Update {
		exp := &caseExpect{Manifest: got.Manifest, Errors: got.Errors}
		if c.Expect != nil && c.Expect.Index != nil {
			exp.Index = got.Index
		}
		c.Expect = exp
		if err := writeCase(path, c); err != nil {
			return outcome{}, err
		}
		return passf("updated %s", path), nil
	}
	if c.Expect == nil {
		return failf("the case has no \"expect\"; run with Update (ronhost plugin test --update, or Options.Update) to record what the plugin answers:%s", inOut(pr, res)), nil
	}
	want := c.Expect
	switch {
	case want.Manifest != nil && res.Status != 0:
		return failf("expected the manifest to be accepted, but ron_validate rejected it: %s", show(res.Output)), nil
	case want.Manifest != nil && !jsonEqual(want.Manifest, got.Manifest):
		return failf("the normalized manifest differs from the expected one\n  want: %s\n  got:  %s", show(compact(want.Manifest)), show(got.Manifest)), nil
	case want.Index != nil && !jsonEqual(want.Index, got.Index):
		return failf("the index differs from the expected one\n  want: %s\n  got:  %s", show(compact(want.Index)), show(got.Index)), nil
	case want.Errors != nil && res.Status != 1:
		return failf("expected a rejection with %s, but ron_validate accepted the manifest: %s", errList(want.Errors), show(res.Output)), nil
	case want.Errors != nil && !slices.Equal(errList(want.Errors), errList(got.Errors)):
		return failf("the rejection's errors differ (path:code)\n  want: %s\n  got:  %s\n  output: %s", strings.Join(errList(want.Errors), ", "), strings.Join(errList(got.Errors), ", "), show(res.Output)), nil
	}
	return passed(), nil
}

// errList renders path:code pairs sorted, as a multiset.
func errList(es []caseError) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	sort.Strings(out)
	return out
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// writeCase rewrites a case file, indented, through a temporary file.
func writeCase(path string, c *caseFile) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("conformance: encoding %s: %w", path, err)
	}
	b = append(b, '\n')
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("conformance: updating %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("conformance: updating %s: %w", path, err)
	}
	return nil
}

func (s *suite) skipCases(why string) {
	for _, nc := range s.cases {
		s.record("cases."+nc.name, time.Now(), skipf("%s", why))
	}
}
