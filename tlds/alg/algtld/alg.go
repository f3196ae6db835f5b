package algtld

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// TLD is the namespace this plugin owns.
const TLD = "alg"

// Version is the plugin's own version.
const Version = "1.0.0"

// Roles the split pays.
const (
	RoleAuthor  = "author"
	RoleAuditor = "auditor"
)

// Limits and defaults of the [alg] table.
const (
	DefaultAuditorBPS = 1000 // 10% to the auditors of the current code
	MaxAuditorBPS     = 5000
	MaxAuthors        = 32
	MaxInputs         = 64
	MaxChangelog      = 64
	MaxAudits         = 8    // each is a signature check (~1 ms in wasm)
	MaxName           = 100  // characters: name, author, auditor
	MaxDescription    = 500  // an input's description
	MaxNotes          = 2000 // a changelog entry's notes
)

// Kinds is what an algorithm does; [alg] kind is one of them.
const (
	KindFeed    = "feed"    // builds a feed: chooses and orders items for a reader
	KindRanking = "ranking" // orders a given set of items (search results, replies)
)

// Audit results.
const (
	ResultPass     = "pass"     // the code does what the manifest says
	ResultConcerns = "concerns" // it does, with reservations the report lists
	ResultFail     = "fail"     // it does not
)

// MediaTypeWasm is the payload media type of a WebAssembly module; a .alg
// manifest whose payload is one must have it as its code.
const MediaTypeWasm = "application/wasm"

// Error codes of this plugin beyond the SDK's (ron.CodeRequired, ...).
const (
	CodeMismatch   = "mismatch"   // [meta] tld, the context, payload vs code, audit version vs code
	CodeSignature  = "signature"  // a well-formed signature that does not verify
	CodeVocabulary = "vocabulary" // a kind or result outside the documented words
	CodeSum        = ron.CodeSum  // author shares not totalling 10000
)

// Table is the normalized [alg] table.
type Table struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Code       string   `json:"code"`    // "b3:<64 hex>" of the WebAssembly module
	Version    string   `json:"version"` // MAJOR.MINOR.PATCH
	Inputs     []Input  `json:"inputs"`
	Changelog  []Change `json:"changelog"` // newest first
	Authors    []Author `json:"authors"`
	Audits     []Audit  `json:"audits"` // by date, then key, then code
	AuditorBPS uint64   `json:"auditor_bps"`
}

// Input is a signal the algorithm reads, [[alg.inputs]].
type Input struct {
	Name        string `json:"name"` // [a-z0-9][a-z0-9._-]{0,63}
	Description string `json:"description"`
}

// Change is one changelog entry, [[alg.changelog]].
type Change struct {
	Version string `json:"version"`
	Date    string `json:"date"` // YYYY-MM-DD (a TOML local date)
	Notes   string `json:"notes"`
}

// Author is one author, [[alg.authors]].
type Author struct {
	Name   string `json:"name"`
	Payout string `json:"payout"`
	Share  uint64 `json:"share"` // basis points; all shares total 10000
}

// Audit is one signed audit, [[alg.audits]].
type Audit struct {
	Auditor   string `json:"auditor"` // the auditor's name
	Key       string `json:"key"`     // "ed25519:<64 hex>"
	Payout    string `json:"payout"`
	Code      string `json:"code"`    // the CID audited
	Version   string `json:"version"` // the version audited
	Date      string `json:"date"`    // YYYY-MM-DD
	Result    string `json:"result"`  // pass, concerns or fail
	Report    string `json:"report,omitempty"`
	Signature string `json:"signature,omitempty"`

	at int // the position in the input, for error paths
}

// rawTable is the input form: pointers where absence matters.
type rawTable struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Code       string   `json:"code"`
	Version    string   `json:"version"`
	Inputs     []Input  `json:"inputs"`
	Changelog  []Change `json:"changelog"`
	Authors    []Author `json:"authors"`
	Audits     []Audit  `json:"audits"`
	AuditorBPS *uint64  `json:"auditor_bps"`
}

// The examples describe offers, with audits signed by fixed development
// keys. They are generated, with the conformance cases, by TestGenerated in
// gen_test.go:
//
//	go test ./tlds/alg/algtld -run TestGenerated -args -rewrite
var (
	//go:embed example-feed.json
	exampleFeed string
	//go:embed example-ranking.json
	exampleRanking string
)

// Examples returns the example manifests describe offers (JSON): an audited
// feed whose payload is its module, and an unaudited ranking.
func Examples() []string { return []string{exampleFeed, exampleRanking} }

// Plugin is the .alg plugin. Its zero value is ready to use.
type Plugin struct{}

// New returns the plugin.
func New() Plugin { return Plugin{} }

// Describe implements ron.Plugin.
func (Plugin) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD:      TLD,
		Name:     "Algorithm transparency",
		Version:  Version,
		Summary:  "Ranking and feed algorithms: code CID, inputs, changelog and signed audits; authors and auditors paid.",
		Roles:    []string{RoleAuditor, RoleAuthor},
		Examples: []*ron.Manifest{ron.MustManifest(exampleFeed), ron.MustManifest(exampleRanking)},
	}
}

// Validate implements ron.Plugin: it checks and normalizes [alg], then
// verifies every audit's signature.
func (Plugin) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var errs ron.Errors
	meta, err := in.Manifest.Meta()
	if err != nil {
		return ron.ValidateOutput{}, err
	}
	if meta.TLD != TLD {
		errs.Addf("meta.tld", CodeMismatch, "the manifest is for %q, this plugin owns %q", meta.TLD, TLD)
	}
	if in.Context.TLD != "" && in.Context.TLD != TLD {
		errs.Addf("context.tld", CodeMismatch, "the address is in %q, this plugin owns %q", in.Context.TLD, TLD)
	}
	var payload ron.Payload
	if in.Manifest.Has(ron.TablePayload) {
		payload, err = in.Manifest.Payload() // the host's table, type-checked here too
		errs.AddErr(ron.TablePayload, err)
	}
	// The host owns [meta] and [payload], the plugin everything else: a .alg
	// manifest has no other table, so a misspelt one is caught.
	for _, name := range in.Manifest.Names() {
		if name != ron.TableMeta && name != ron.TablePayload && name != TLD {
			errs.Addf(name, ron.CodeUnknown, "a .alg manifest has [meta], [payload] and [alg] only, not %q", name)
		}
	}
	t, ok := parse(in.Manifest, &errs)
	if ok && strings.EqualFold(strings.TrimSpace(payload.MediaType), MediaTypeWasm) && payload.CID != t.Code {
		errs.Addf("alg.code", CodeMismatch, "the payload is a WebAssembly module (%s), so it must be the code, but code is %s", payload.CID, t.Code)
	}
	if ok && errs.Len() == 0 {
		verify(t, &errs)
	}
	if err := errs.Err(); err != nil {
		return ron.ValidateOutput{}, err
	}
	out := in.Manifest.Clone()
	if err := out.Set(TLD, t); err != nil {
		return ron.ValidateOutput{}, err
	}
	return ron.ValidateOutput{Manifest: out, Index: index(meta, t)}, nil
}

var _ ron.Resolver = Plugin{}

// Resolve implements ron.Resolver: the address itself ("/" or "") serves the
// whole payload (the module, or the algorithm's documentation) with the
// payload's media type; every other path is 404.
func (Plugin) Resolve(in ron.ResolveInput, _ ron.Object) (ron.ResolveOutput, error) {
	return ron.ServePayload(in), nil
}

// index: the title (meta's, else name and version) and tags for the kind,
// "audited" when an audit of the current code passed, and the inputs read.
func index(meta ron.Meta, t Table) ron.Index {
	ix := ron.Index{Title: t.Name + " " + t.Version, Tags: []string{t.Kind}}
	if title := strings.TrimSpace(meta.Title); title != "" {
		ix.Title = title
	}
	for _, a := range t.Audits {
		if a.Code == t.Code && a.Result == ResultPass {
			ix.Tags = append(ix.Tags, "audited")
			break
		}
	}
	for _, in := range t.Inputs {
		ix.Tags = append(ix.Tags, "input:"+in.Name)
	}
	sort.Strings(ix.Tags)
	return ix
}

// Split implements ron.Plugin: auditor_bps of the amount (rounded down) to
// the auditors of the current code, equally (weight 1 per audit, so an
// auditor with two audits of it counts twice), the rest to the authors by
// share, both with the SDK's remainder rule. Without an audit of the current
// code the authors get everything. Usage is not used: .alg pays no
// operators. The host splits only manifests validate accepted, so Split
// reads just what it pays with and re-checks that (payouts, shares,
// auditor_bps), not the signatures or the rest of the table.
func (Plugin) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	var t splitView
	if err := splitTable(in.Manifest, &t); err != nil {
		return nil, err
	}
	var auditors []ron.Weight
	for _, a := range t.Audits {
		if a.Code == t.Code {
			auditors = append(auditors, ron.Weight{Payee: a.Payout, Role: RoleAuditor, Weight: 1})
		}
	}
	part := uint64(0)
	if len(auditors) > 0 {
		part = ron.Portion(in.Amount, t.AuditorBPS)
	}
	shares := make([]ron.Share, len(t.Authors))
	for i, a := range t.Authors {
		shares[i] = ron.Share{Payee: a.Payout, Role: RoleAuthor, BPS: a.Share}
	}
	out, err := ron.SplitBPS(in.Amount-part, shares)
	if err != nil {
		return nil, ron.Reject("alg.authors", CodeSum, err.Error())
	}
	if part > 0 {
		paid, err := ron.SplitWeighted(part, auditors)
		if err != nil {
			return nil, ron.Reject("alg.audits", ron.CodeInvalid, err.Error())
		}
		out = append(out, paid...)
	}
	return out, nil
}

// splitView is what Split reads of a normalized [alg] table.
type splitView struct {
	Code    string `json:"code"`
	Authors []struct {
		Payout string `json:"payout"`
		Share  uint64 `json:"share"`
	} `json:"authors"`
	Audits []struct {
		Code   string `json:"code"`
		Payout string `json:"payout"`
	} `json:"audits"`
	AuditorBPS uint64 `json:"auditor_bps"`
}

// splitTable decodes the split view of [alg] and checks what Split relies on.
func splitTable(m *ron.Manifest, t *splitView) error {
	raw := m.Raw(TLD)
	if raw == nil {
		return ron.Reject(TLD, ron.CodeRequired, "the manifest has no [alg] table")
	}
	t.AuditorBPS = DefaultAuditorBPS
	if err := json.Unmarshal(raw, t); err != nil {
		return ron.Reject(TLD, ron.CodeType, "[alg] does not decode: "+err.Error())
	}
	var errs ron.Errors
	if len(t.Authors) == 0 {
		errs.Add("alg.authors", ron.CodeRequired, "an algorithm needs at least one author")
	}
	for i, a := range t.Authors {
		if !ron.ValidPayout(a.Payout) {
			errs.Addf(fmt.Sprintf("alg.authors[%d].payout", i), ron.CodeFormat, "%q is not a payout address", a.Payout)
		}
	}
	for i, a := range t.Audits {
		if !ron.ValidPayout(a.Payout) {
			errs.Addf(fmt.Sprintf("alg.audits[%d].payout", i), ron.CodeFormat, "%q is not a payout address", a.Payout)
		}
	}
	if t.AuditorBPS > MaxAuditorBPS {
		errs.Addf("alg.auditor_bps", ron.CodeRange, "%d basis points, at most %d", t.AuditorBPS, MaxAuditorBPS)
	}
	return errs.Err()
}

// parse decodes [alg] strictly and normalizes it, recording every problem
// in errs. ok is false when the table could not be decoded at all.
func parse(m *ron.Manifest, errs *ron.Errors) (Table, bool) {
	var raw rawTable
	if err := m.Table(TLD, &raw); err != nil {
		errs.AddErr(TLD, err)
		return Table{}, false
	}
	t := Table{
		Name:       cleanText(raw.Name),
		Kind:       strings.ToLower(strings.TrimSpace(raw.Kind)),
		Code:       strings.TrimSpace(raw.Code),
		Version:    strings.TrimSpace(raw.Version),
		AuditorBPS: DefaultAuditorBPS,
	}
	checkText(errs, "alg.name", t.Name, MaxName)
	switch t.Kind {
	case KindFeed, KindRanking:
	case "":
		errs.Add("alg.kind", ron.CodeRequired, "kind is required: feed or ranking")
	default:
		errs.Addf("alg.kind", CodeVocabulary, "%q is not a kind: feed or ranking", t.Kind)
	}
	checkCID(errs, "alg.code", t.Code)
	current, okVersion := checkVersion(errs, "alg.version", t.Version)
	if raw.AuditorBPS != nil {
		t.AuditorBPS = *raw.AuditorBPS
	}
	if t.AuditorBPS > MaxAuditorBPS {
		errs.Addf("alg.auditor_bps", ron.CodeRange, "%d basis points, at most %d", t.AuditorBPS, MaxAuditorBPS)
	}
	t.Inputs = normalizeInputs(raw.Inputs, errs)
	t.Changelog = normalizeChangelog(raw.Changelog, current, okVersion, t.Version, errs)
	t.Authors = normalizeAuthors(raw.Authors, errs)
	t.Audits = normalizeAudits(raw.Audits, t, okVersion, errs)
	return t, true
}

func normalizeInputs(in []Input, errs *ron.Errors) []Input {
	switch {
	case len(in) == 0:
		errs.Add("alg.inputs", ron.CodeRequired, "list the inputs the algorithm reads (at least one)")
	case len(in) > MaxInputs:
		errs.Addf("alg.inputs", ron.CodeRange, "%d inputs, at most %d", len(in), MaxInputs)
	}
	out := make([]Input, 0, len(in))
	seen := map[string]int{}
	for i, x := range in {
		p := fmt.Sprintf("alg.inputs[%d]", i)
		x.Name = strings.ToLower(strings.TrimSpace(x.Name))
		x.Description = cleanText(x.Description)
		if !validInputName(x.Name) {
			errs.Addf(p+".name", ron.CodeFormat, "%q is not an input name ([a-z0-9][a-z0-9._-]{0,63})", x.Name)
		} else if j, dup := seen[x.Name]; dup {
			errs.Addf(p+".name", ron.CodeDuplicate, "input %d is already %q", j, x.Name)
		}
		seen[x.Name] = i
		checkText(errs, p+".description", x.Description, MaxDescription)
		out = append(out, x)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func normalizeChangelog(in []Change, current semver, okVersion bool, version string, errs *ron.Errors) []Change {
	if len(in) > MaxChangelog {
		errs.Addf("alg.changelog", ron.CodeRange, "%d entries, at most %d", len(in), MaxChangelog)
	}
	type entry struct {
		c Change
		v semver
	}
	out := make([]entry, 0, len(in))
	seen := map[string]int{}
	hasCurrent := false
	for i, c := range in {
		p := fmt.Sprintf("alg.changelog[%d]", i)
		c.Version = strings.TrimSpace(c.Version)
		c.Notes = cleanText(c.Notes)
		c.Date = strings.TrimSpace(c.Date)
		v, ok := checkVersion(errs, p+".version", c.Version)
		if ok {
			if j, dup := seen[c.Version]; dup {
				errs.Addf(p+".version", ron.CodeDuplicate, "entry %d is already for %s", j, c.Version)
			}
			seen[c.Version] = i
			if okVersion && current.less(v) {
				errs.Addf(p+".version", ron.CodeRange, "%s is newer than the algorithm's version %s", c.Version, version)
			}
			hasCurrent = hasCurrent || c.Version == version
		}
		checkDate(errs, p+".date", c.Date)
		checkText(errs, p+".notes", c.Notes, MaxNotes)
		out = append(out, entry{c, v})
	}
	if okVersion && !hasCurrent {
		errs.Addf("alg.changelog", ron.CodeRequired, "the changelog needs an entry for the current version %s", version)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[j].v.less(out[i].v) }) // newest first
	res := make([]Change, len(out))
	for i, e := range out {
		res[i] = e.c
	}
	return res
}

func normalizeAuthors(in []Author, errs *ron.Errors) []Author {
	switch {
	case len(in) == 0:
		errs.Add("alg.authors", ron.CodeRequired, "an algorithm needs at least one author")
	case len(in) > MaxAuthors:
		errs.Addf("alg.authors", ron.CodeRange, "%d authors, at most %d", len(in), MaxAuthors)
	}
	var total uint64
	payouts := map[string]int{}
	for i := range in {
		a := &in[i]
		p := fmt.Sprintf("alg.authors[%d]", i)
		a.Name = cleanText(a.Name)
		checkText(errs, p+".name", a.Name, MaxName)
		a.Payout = strings.TrimSpace(a.Payout)
		if !ron.ValidPayout(a.Payout) {
			errs.Addf(p+".payout", ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", a.Payout)
		} else if j, dup := payouts[a.Payout]; dup {
			errs.Addf(p+".payout", ron.CodeDuplicate, "author %d already has payout %q", j, a.Payout)
		}
		payouts[a.Payout] = i
		if a.Share == 0 || a.Share > ron.TotalBPS {
			errs.Addf(p+".share", ron.CodeRange, "share %d is not 1..10000 basis points", a.Share)
		}
		total += min(a.Share, ron.TotalBPS)
	}
	if len(in) > 0 && total != ron.TotalBPS {
		errs.Addf("alg.authors", CodeSum, "shares total %d basis points, want exactly 10000", total)
	}
	if in == nil {
		in = []Author{}
	}
	return in // the order of authors is kept: it is credit
}

func normalizeAudits(in []Audit, t Table, okVersion bool, errs *ron.Errors) []Audit {
	if len(in) > MaxAudits {
		errs.Addf("alg.audits", ron.CodeRange, "%d audits, at most %d", len(in), MaxAudits)
	}
	out := make([]Audit, 0, len(in))
	seen := map[[2]string]int{}
	for i, a := range in {
		p := fmt.Sprintf("alg.audits[%d]", i)
		a.at = i
		a.Auditor = cleanText(a.Auditor)
		checkText(errs, p+".auditor", a.Auditor, MaxName)
		a.Key = strings.TrimSpace(a.Key)
		if _, ok := ronsig.ParseKey(a.Key); !ok {
			errs.Addf(p+".key", ron.CodeFormat, "%q is not an ed25519 public key (ed25519:<64 lowercase hex>)", a.Key)
		}
		a.Payout = strings.TrimSpace(a.Payout)
		if !ron.ValidPayout(a.Payout) {
			errs.Addf(p+".payout", ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", a.Payout)
		}
		a.Code = strings.TrimSpace(a.Code)
		checkCID(errs, p+".code", a.Code)
		a.Version = strings.TrimSpace(a.Version)
		checkVersion(errs, p+".version", a.Version)
		if okVersion && a.Code == t.Code && a.Version != t.Version {
			errs.Addf(p+".version", CodeMismatch, "the audit is of the current code, which is version %s, not %s", t.Version, a.Version)
		}
		a.Date = strings.TrimSpace(a.Date)
		checkDate(errs, p+".date", a.Date)
		a.Result = strings.ToLower(strings.TrimSpace(a.Result))
		switch a.Result {
		case ResultPass, ResultConcerns, ResultFail:
		case "":
			errs.Add(p+".result", ron.CodeRequired, "result is required: pass, concerns or fail")
		default:
			errs.Addf(p+".result", CodeVocabulary, "%q is not a result: pass, concerns or fail", a.Result)
		}
		a.Report = strings.TrimSpace(a.Report)
		if a.Report != "" {
			checkCID(errs, p+".report", a.Report)
		}
		a.Signature = strings.TrimSpace(a.Signature)
		if a.Signature == "" {
			errs.Add(p+".signature", ron.CodeRequired, "an audit must be signed by its auditor (128 lowercase hex)")
		} else if _, ok := ronsig.ParseSignature(a.Signature); !ok {
			errs.Addf(p+".signature", ron.CodeFormat, "%q is not an ed25519 signature (128 lowercase hex)", a.Signature)
		}
		k := [2]string{a.Key, a.Code}
		if j, dup := seen[k]; dup {
			errs.Addf(p, ron.CodeDuplicate, "audit %d is already by this key of this code", j)
		}
		seen[k] = i
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Date != b.Date {
			return a.Date < b.Date
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Code < b.Code
	})
	return out
}

// semver is MAJOR.MINOR.PATCH.
type semver [3]uint64

func (a semver) less(b semver) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// checkVersion parses MAJOR.MINOR.PATCH: decimal numbers without leading
// zeros, at most 9 digits each (no pre-release or build suffix).
func checkVersion(errs *ron.Errors, path, s string) (semver, bool) {
	var v semver
	if s == "" {
		errs.Add(path, ron.CodeRequired, "a version is required (MAJOR.MINOR.PATCH)")
		return v, false
	}
	parts := strings.Split(s, ".")
	ok := len(parts) == 3
	for i := 0; ok && i < 3; i++ {
		p := parts[i]
		ok = len(p) >= 1 && len(p) <= 9 && (p == "0" || p[0] != '0') && strings.Trim(p, "0123456789") == ""
		if ok {
			v[i], _ = strconv.ParseUint(p, 10, 64)
		}
	}
	if !ok {
		errs.Addf(path, ron.CodeFormat, "%q is not a version (MAJOR.MINOR.PATCH, e.g. 2.1.0)", s)
	}
	return v, ok
}

func checkDate(errs *ron.Errors, path, s string) {
	if s == "" {
		errs.Add(path, ron.CodeRequired, "a date is required (YYYY-MM-DD)")
		return
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		errs.Addf(path, ron.CodeFormat, "%q is not a date (YYYY-MM-DD, a TOML local date)", s)
	}
}

func checkText(errs *ron.Errors, path, s string, max int) {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		errs.Add(path, ron.CodeRequired, "must not be empty")
	case n > max:
		errs.Addf(path, ron.CodeRange, "%d characters, at most %d", n, max)
	}
}

func checkCID(errs *ron.Errors, path, s string) {
	if s == "" {
		errs.Add(path, ron.CodeRequired, "a CID is required (b3:<64 lowercase hex>)")
		return
	}
	if !ron.ValidCID(s) {
		errs.Addf(path, ron.CodeFormat, "%q is not a CID (b3:<64 lowercase hex>)", s)
	}
}

func validInputName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._-", rune(c))) {
			return false
		}
	}
	return true
}

// KeyPrefix starts an ed25519 public key: "ed25519:<64 lowercase hex>".
const KeyPrefix = ronsig.KeyPrefix

// cleanText trims s and collapses runs of white space to one space.
func cleanText(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}
