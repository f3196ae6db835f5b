package ron

import (
	"cmp"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Dispatch runs one ABI call: it checks and decodes input for entry, calls
// p's handler, checks the result against the ABI and encodes it. obj is the
// payload for EntryResolve (nil otherwise). It never panics. The values a
// handler sees (strings, manifest tables) may share input's bytes, so the
// caller must not modify input afterwards (rontest passes a copy).
//
// The wasm exports call Dispatch with the registered plugin; rontest calls it
// natively, so both run the same code. See the package documentation for the
// status codes and what errors and panics become.
func Dispatch(p Plugin, entry string, input []byte, obj io.ReaderAt) (status int32, output []byte) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("%s panicked: %v", entry, r)
			Log(LevelError, msg+"\n"+string(debug.Stack()))
			status, output = fault(CodePanic, msg)
		}
	}()
	if p == nil {
		return fault(CodeContract, "no plugin registered: call ron.Register from an init function of the main package")
	}
	switch entry {
	case EntryDescribe:
		return describe(p, input)
	case EntryValidate:
		return validate(p, input)
	case EntrySplit:
		return split(p, input)
	case EntryResolve:
		return resolve(p, input, obj)
	}
	return fault(CodeContract, fmt.Sprintf("unknown entry point %q", entry))
}

// inputField names a member of an input document and where decodeInput
// puts it.
type inputField struct {
	name   string
	target any
}

// decodeInput checks the whole input document in one pass (syntax, UTF-8,
// depth, duplicate keys, size), then decodes the members named in fields
// into their targets: a **Manifest is split into tables without decoding
// them, anything else is decoded with encoding/json. Other members are ignored, so hosts may add fields. The
// fields are a slice, not a map: in wasm building and hashing a map per
// call costs more than a linear search of four names.
func decodeInput(input []byte, fields ...inputField) error {
	if len(input) > MaxInputBytes {
		return Rejectf("", CodeTooLarge, "input is %d bytes, the limit is %d", len(input), MaxInputBytes)
	}
	// A manifest that is not an object is rejected before the rest of the
	// input is scanned, and a manifest is split into tables in the same
	// pass (scanner.nested).
	var nested string
	for _, f := range fields {
		if _, isManifest := f.target.(**Manifest); isManifest {
			nested = f.name
		}
	}
	members, fe := parseObjectNested(input, 0, nested, true)
	if fe != nil {
		if fe.Code == CodeType {
			fe.Message = "input is not a JSON object"
		}
		return &Rejection{Errors: []FieldError{*fe}}
	}
	for _, mb := range members {
		var target any
		for _, f := range fields {
			if f.name == mb.key {
				target = f.target
				break
			}
		}
		if target == nil {
			continue
		}
		if mp, ok := target.(**Manifest); ok {
			if mb.sub == nil { // null: early let nothing else through
				continue
			}
			m := &Manifest{}
			m.setMembers(mb.sub)
			*mp = m
			continue
		}
		if decodeFast(mb.raw, target) {
			continue
		}
		if err := unmarshal(mb.raw, target, false); err != nil {
			return &Rejection{Errors: []FieldError{decodeError(mb.key, err)}}
		}
	}
	return nil
}

// inputManifest is the member of every input (but describe's) that holds
// the manifest.
const inputManifest = "manifest"

func ok(v any) (int32, []byte) {
	out, err := marshal(v)
	if err != nil {
		return fault(CodeContract, "encoding the result: "+err.Error())
	}
	return okBytes(out)
}

func okBytes(out []byte) (int32, []byte) {
	if len(out) > MaxOutputBytes {
		return fault(CodeContract, fmt.Sprintf("the result is %d bytes, the limit is %d", len(out), MaxOutputBytes))
	}
	return StatusOK, out
}

// reject encodes err (a *Rejection or any error) as status 1.
func reject(err error) (int32, []byte) {
	r, isRej := AsRejection(err)
	if !isRej {
		r = &Rejection{Errors: []FieldError{{Code: CodeInvalid, Message: err.Error()}}}
	}
	list := r.Errors
	if len(list) == 0 {
		list = []FieldError{{Code: CodeInvalid, Message: "rejected"}}
	}
	out, merr := marshal(Rejection{Errors: list})
	if merr != nil || len(out) > MaxOutputBytes {
		out, _ = marshal(Rejection{Errors: []FieldError{{Code: CodeInvalid, Message: "rejected (the error list was too large to encode)"}}})
	}
	return StatusRejected, out
}

func fault(code, msg string) (int32, []byte) {
	out, _ := marshal(Rejection{Errors: []FieldError{{Code: code, Message: msg}}})
	return StatusFault, out
}

// ValidTLD reports whether s is a TLD name: lowercase [a-z0-9-]{1,32}.
func ValidTLD(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// description runs p.Describe and checks and completes the result.
func description(p Plugin, host HostInfo) (Description, error) {
	d := p.Describe(host)
	_, isResolver := p.(Resolver)
	feats := map[string]bool{}
	for _, f := range d.Features {
		feats[f] = true
	}
	if isResolver {
		feats[FeatureResolve] = true
	} else if feats[FeatureResolve] {
		return d, fmt.Errorf("describe declares feature %q but the plugin does not implement ron.Resolver", FeatureResolve)
	}
	d.Features = make([]string, 0, len(feats))
	for f := range feats {
		d.Features = append(d.Features, f)
	}
	sort.Strings(d.Features)
	if d.Roles == nil {
		d.Roles = []string{}
	}
	switch {
	case !ValidTLD(d.TLD):
		return d, fmt.Errorf("describe: tld %q is not lowercase [a-z0-9-]{1,32}", d.TLD)
	case d.Name == "":
		return d, fmt.Errorf("describe: name is empty")
	case d.Version == "":
		return d, fmt.Errorf("describe: version is empty")
	case len(d.Roles) == 0:
		return d, fmt.Errorf("describe: roles is empty; list every role a split may pay")
	case len(d.Examples) == 0:
		return d, fmt.Errorf("describe: examples is empty; give at least one manifest validate accepts")
	}
	seen := map[string]bool{}
	for _, r := range d.Roles {
		if r == "" || seen[r] {
			return d, fmt.Errorf("describe: role %q is empty or repeated", r)
		}
		seen[r] = true
	}
	for i, m := range d.Examples {
		if m == nil {
			return d, fmt.Errorf("describe: example %d is nil", i)
		}
	}
	return d, nil
}

func describe(p Plugin, input []byte) (int32, []byte) {
	var in DescribeInput
	if err := decodeInput(input, inputField{"abi", &in.ABI}, inputField{"host", &in.Host}); err != nil {
		return reject(err)
	}
	if in.ABI != ABIVersion {
		return reject(Rejectf("abi", CodeUnsupported, "this plugin implements ABI version %d, not %d", ABIVersion, in.ABI))
	}
	d, err := description(p, in.Host)
	if err != nil {
		return fault(CodeContract, err.Error())
	}
	return ok(d)
}

func validate(p Plugin, input []byte) (int32, []byte) {
	var in ValidateInput
	if err := decodeInput(input, inputField{inputManifest, &in.Manifest}, inputField{"context", &in.Context}); err != nil {
		return reject(err)
	}
	if err := checkManifest(in.Manifest); err != nil {
		return reject(err)
	}
	if in.Context.PayloadSize > MaxAmount {
		return reject(Rejectf("context.payload_size", CodeRange, "more than %d", uint64(MaxAmount)))
	}
	out, err := p.Validate(in)
	if err != nil {
		return reject(err)
	}
	if out.Manifest == nil {
		out.Manifest = in.Manifest
	}
	if out.Index.Tags == nil {
		out.Index.Tags = []string{}
	}
	// Written by hand so the manifest, which may be large, is encoded once
	// (encoding/json would re-scan a Marshaler's output).
	// Room for the manifest, which is about the input's size, at once: in
	// wasm each growth is an allocation and a copy.
	dst := append(make([]byte, 0, len(input)+256), `{"manifest":`...)
	dst, err = out.Manifest.AppendCanonical(dst)
	if err != nil {
		return fault(CodeContract, "encoding the manifest: "+err.Error())
	}
	dst = append(dst, `,"index":{"title":`...)
	dst = appendString(dst, out.Index.Title)
	dst = append(dst, `,"tags":[`...)
	for i, tag := range out.Index.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, tag)
	}
	dst = append(dst, "]}}"...)
	return okBytes(dst)
}

func split(p Plugin, input []byte) (int32, []byte) {
	var in SplitInput
	if err := decodeInput(input, inputField{inputManifest, &in.Manifest}, inputField{"epoch", &in.Epoch}, inputField{"amount", &in.Amount}, inputField{"usage", &in.Usage}); err != nil {
		return reject(err)
	}
	if err := checkManifest(in.Manifest); err != nil {
		return reject(err)
	}
	var errs Errors
	// The path is formatted only for a value out of range: fmt costs more
	// than the rest of the check.
	checkMax := func(path func() string, v uint64) {
		if v > MaxAmount {
			errs.Addf(path(), CodeRange, "%d is more than 2^53-1", v)
		}
	}
	checkMax(func() string { return "amount" }, in.Amount)
	checkMax(func() string { return "usage.requests" }, in.Usage.Requests)
	checkMax(func() string { return "usage.bytes" }, in.Usage.Bytes)
	for i, s := range in.Usage.Servers {
		checkMax(func() string { return fmt.Sprintf("usage.servers[%d].requests", i) }, s.Requests)
		checkMax(func() string { return fmt.Sprintf("usage.servers[%d].bytes", i) }, s.Bytes)
	}
	if err := errs.Err(); err != nil {
		return reject(err)
	}
	// Hand the plugin the servers in one canonical order, so a plugin that
	// iterates them cannot depend on the order the host listed them in.
	slices.SortStableFunc(in.Usage.Servers, compareServers)
	allocs, err := p.Split(in)
	if err != nil {
		return reject(err)
	}
	// Roles are checked against describe by the host and by rontest's
	// checks; calling Describe on every split would cost more than the split.
	for _, a := range allocs {
		if a.Payee == "" || a.Role == "" {
			return fault(CodeContract, fmt.Sprintf("split: an allocation of %d has an empty payee or role (%q, %q)", a.Amount, a.Payee, a.Role))
		}
	}
	sum, overflow := Sum(allocs)
	if overflow || sum != in.Amount {
		return fault(CodeContract, fmt.Sprintf("split: allocations sum to %d (overflow %v), the amount is %d", sum, overflow, in.Amount))
	}
	// Written by hand: no reflection on the hot path.
	dst := append(make([]byte, 0, 64+64*len(allocs)), `{"allocations":[`...)
	for i, a := range Merge(allocs) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"payee":`...)
		dst = appendString(dst, a.Payee)
		dst = append(dst, `,"role":`...)
		dst = appendString(dst, a.Role)
		dst = append(dst, `,"amount":`...)
		dst = strconv.AppendUint(dst, a.Amount, 10)
		dst = append(dst, '}')
	}
	return okBytes(append(dst, "]}"...))
}

// compareServers orders servers by (payout, node, bytes, requests).
// Each comparison is made only when the ones before tie: cmp.Or takes
// them all as arguments, and in wasm each string comparison is three calls.
func compareServers(a, b Server) int {
	if c := strings.Compare(a.Payout, b.Payout); c != 0 {
		return c
	}
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Bytes, b.Bytes), cmp.Compare(a.Requests, b.Requests))
}

func resolve(p Plugin, input []byte, obj io.ReaderAt) (int32, []byte) {
	r, isResolver := p.(Resolver)
	if !isResolver {
		return reject(Reject("", CodeUnsupported, "this plugin does not resolve paths"))
	}
	var in ResolveInput
	if err := decodeInput(input, inputField{inputManifest, &in.Manifest}, inputField{"path", &in.Path}, inputField{"payload_size", &in.PayloadSize}); err != nil {
		return reject(err)
	}
	if err := checkManifest(in.Manifest); err != nil {
		return reject(err)
	}
	if in.PayloadSize > MaxAmount {
		return reject(Rejectf("payload_size", CodeRange, "more than %d", uint64(MaxAmount)))
	}
	out, err := r.Resolve(in, &object{r: obj, size: int64(in.PayloadSize)})
	if err != nil {
		return reject(err)
	}
	if out.Status < 100 || out.Status > 599 {
		return fault(CodeContract, fmt.Sprintf("resolve: status %d is not an HTTP status", out.Status))
	}
	if out.Status != 200 {
		return ok(struct {
			Status int `json:"status"`
		}{out.Status})
	}
	if out.Offset > in.PayloadSize || out.Length > in.PayloadSize-out.Offset {
		return fault(CodeContract, fmt.Sprintf("resolve: range %d+%d is outside the payload of %d bytes", out.Offset, out.Length, in.PayloadSize))
	}
	return ok(out)
}

// checkManifest requires a manifest with a [meta] table holding a tld, which
// the host always sends; a plugin never sees a manifest without one.
func checkManifest(m *Manifest) error {
	if m == nil {
		return Reject("manifest", CodeRequired, "the input has no manifest")
	}
	meta := new(Meta) // decoded in place: Meta() would decode into a copy of its own
	if err := m.decodeMeta(meta); err != nil {
		return err
	}
	if meta.TLD == "" {
		return Reject("meta.tld", CodeRequired, "the manifest's [meta] table has no tld")
	}
	m.meta = meta // the handler's Meta() calls reuse it
	return nil
}
