package modtld

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// TLD is the namespace this plugin owns.
const TLD = "mod"

// Version is the plugin's own version.
const Version = "1.0.0"

// Roles the split pays.
const (
	RoleModerator = "moderator"
	RoleTreasury  = "treasury"
)

// TreasuryPayout is the payout address of the moderation treasury, the
// payee of the treasury role. It is fixed: a manifest chooses how much the
// treasury gets (treasury_bps), not who it is.
const TreasuryPayout = "treasury.mod"

// Limits and defaults of the [mod] table.
const (
	DefaultTreasuryBPS = 1000 // 10%
	MinTreasuryBPS     = 500
	MaxTreasuryBPS     = ron.TotalBPS
	MaxModerators      = 8 // per verdict: each is a signature check (~1 ms in wasm)
	DefaultWeight      = 1
	MaxWeight          = 1_000_000
	MaxName            = 100 // characters
	MaxReason          = 1000
	MaxScore           = ron.TotalBPS // a score is basis points
)

// Error codes of this plugin beyond the SDK's (ron.CodeRequired, ...).
const (
	CodeMismatch   = "mismatch"   // [meta] tld or the context is not "mod"
	CodeSignature  = "signature"  // a well-formed signature that does not verify
	CodeVocabulary = "vocabulary" // a label outside Labels
)

// Table is the normalized [mod] table: exactly one of Moderator and Verdict
// is set.
type Table struct {
	Moderator   *Moderator `json:"moderator,omitempty"`
	Verdict     *Verdict   `json:"verdict,omitempty"`
	TreasuryBPS uint64     `json:"treasury_bps"`
}

// Moderator is a registry entry, [mod.moderator].
type Moderator struct {
	Name      string   `json:"name"`
	Key       string   `json:"key"`     // "ed25519:<64 hex>"
	Payout    string   `json:"payout"`  // ron.ValidPayout
	Charter   string   `json:"charter"` // "b3:<64 hex>" of the charter document
	Stake     uint64   `json:"stake"`   // minor units staked, 0..2^53-1
	Score     uint64   `json:"score"`   // basis points, 0..10000
	Labels    []string `json:"labels"`  // labels issued; default every label
	Signature string   `json:"signature,omitempty"`
}

// Verdict is a verdict on a target, [mod.verdict].
type Verdict struct {
	Target     string   `json:"target"` // "b3:<64 hex>": the judged manifest (address hash) or object
	Label      string   `json:"label"`  // from Labels
	Reason     string   `json:"reason"`
	Time       string   `json:"time"` // RFC 3339, normalized to UTC
	Moderators []Signer `json:"moderators"`
}

// Signer is one moderator who handled a verdict, [[mod.verdict.moderators]].
type Signer struct {
	Key       string `json:"key"`
	Payout    string `json:"payout"`
	Weight    uint64 `json:"weight"` // 1..MaxWeight, default 1
	Signature string `json:"signature,omitempty"`

	at int // the position in the input, for error paths
}

// The input forms: pointers and raw members where absence matters.
type rawTable struct {
	Moderator   json.RawMessage `json:"moderator"`
	Verdict     json.RawMessage `json:"verdict"`
	TreasuryBPS *uint64         `json:"treasury_bps"`
}

type rawVerdict struct {
	Target     string      `json:"target"`
	Label      string      `json:"label"`
	Reason     string      `json:"reason"`
	Time       string      `json:"time"`
	Moderators []rawSigner `json:"moderators"`
}

type rawSigner struct {
	Key       string  `json:"key"`
	Payout    string  `json:"payout"`
	Weight    *uint64 `json:"weight"`
	Signature string  `json:"signature"`
}

// The examples describe offers, signed with fixed development keys. They are
// generated, with the conformance cases, by TestGenerated in gen_test.go:
//
//	go test ./tlds/mod/modtld -run TestGenerated -args -rewrite
var (
	//go:embed example-moderator.json
	exampleModerator string
	//go:embed example-verdict.json
	exampleVerdict string
)

// Examples returns the example manifests describe offers (JSON): a
// moderator's registry entry and a verdict by two moderators.
func Examples() []string { return []string{exampleModerator, exampleVerdict} }

// Plugin is the .mod plugin. Its zero value is ready to use.
type Plugin struct{}

// New returns the plugin.
func New() Plugin { return Plugin{} }

// Describe implements ron.Plugin.
func (Plugin) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD:      TLD,
		Name:     "Moderation",
		Version:  Version,
		Summary:  "Moderator registry entries and signed verdicts on content, with a moderator/treasury split.",
		Roles:    []string{RoleModerator, RoleTreasury},
		Examples: []*ron.Manifest{ron.MustManifest(exampleModerator), ron.MustManifest(exampleVerdict)},
	}
}

// Validate implements ron.Plugin: it checks and normalizes [mod], then
// verifies every signature over the normalized table.
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
	if in.Manifest.Has(ron.TablePayload) {
		_, err := in.Manifest.Payload() // the host's table, type-checked here too
		errs.AddErr(ron.TablePayload, err)
	}
	// The host owns [meta] and [payload], the plugin everything else: a .mod
	// manifest has no other table, so a misspelt one is caught.
	for _, name := range in.Manifest.Names() {
		if name != ron.TableMeta && name != ron.TablePayload && name != TLD {
			errs.Addf(name, ron.CodeUnknown, "a .mod manifest has [meta], [payload] and [mod] only, not %q", name)
		}
	}
	t, ok := parse(in.Manifest, &errs)
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
// whole payload (a registry entry's charter, a verdict's explanation) with
// the payload's media type; every other path is 404.
func (Plugin) Resolve(in ron.ResolveInput, _ ron.Object) (ron.ResolveOutput, error) {
	return ron.ServePayload(in), nil
}

// index is what the node indexes: the title (meta's, else a generated one)
// and tags for the kind, the labels and a verdict's target.
func index(meta ron.Meta, t Table) ron.Index {
	var ix ron.Index
	switch {
	case t.Moderator != nil:
		ix.Title = "Moderator " + t.Moderator.Name
		ix.Tags = append([]string{"moderator"}, t.Moderator.Labels...)
	default:
		v := t.Verdict
		ix.Title = fmt.Sprintf("Verdict %s on %s", v.Label, v.Target)
		ix.Tags = []string{"verdict", v.Label, v.Target}
	}
	if title := strings.TrimSpace(meta.Title); title != "" {
		ix.Title = title
	}
	sort.Strings(ix.Tags)
	ix.Tags = dedupe(ix.Tags)
	return ix
}

// Split implements ron.Plugin: treasury_bps of the amount (rounded down) to
// the treasury, the rest to the moderators by weight with the SDK's
// remainder rule (a registry entry has one moderator, who gets all of it).
// Usage is not used: .mod pays no operators. The host splits only manifests
// validate accepted, so Split reads just what it pays with and re-checks
// that (payouts, weights, treasury_bps), not the signatures or the rest.
func (Plugin) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	t, err := splitTable(in.Manifest)
	if err != nil {
		return nil, err
	}
	var ws []ron.Weight
	if t.Moderator != nil {
		ws = []ron.Weight{{Payee: t.Moderator.Payout, Role: RoleModerator, Weight: DefaultWeight}}
	} else {
		for _, s := range t.Verdict.Moderators {
			ws = append(ws, ron.Weight{Payee: s.Payout, Role: RoleModerator, Weight: s.Weight})
		}
	}
	treasury := ron.Portion(in.Amount, t.TreasuryBPS)
	out, err := ron.SplitWeighted(in.Amount-treasury, ws)
	if err != nil {
		return nil, ron.Reject("mod", ron.CodeInvalid, err.Error())
	}
	return append(out, ron.Allocation{Payee: TreasuryPayout, Role: RoleTreasury, Amount: treasury}), nil
}

// splitView is what Split reads of a normalized [mod] table.
type splitView struct {
	Moderator *struct {
		Payout string `json:"payout"`
	} `json:"moderator"`
	Verdict *struct {
		Moderators []struct {
			Payout string `json:"payout"`
			Weight uint64 `json:"weight"`
		} `json:"moderators"`
	} `json:"verdict"`
	TreasuryBPS uint64 `json:"treasury_bps"`
}

// splitTable decodes the split view of [mod] and checks what Split relies on.
func splitTable(m *ron.Manifest) (splitView, error) {
	t := splitView{TreasuryBPS: DefaultTreasuryBPS}
	raw := m.Raw(TLD)
	if raw == nil {
		return t, ron.Reject(TLD, ron.CodeRequired, "the manifest has no [mod] table")
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, ron.Reject(TLD, ron.CodeType, "[mod] does not decode: "+err.Error())
	}
	var errs ron.Errors
	if t.TreasuryBPS < MinTreasuryBPS || t.TreasuryBPS > MaxTreasuryBPS {
		errs.Addf("mod.treasury_bps", ron.CodeRange, "%d basis points, want %d..%d", t.TreasuryBPS, MinTreasuryBPS, MaxTreasuryBPS)
	}
	switch {
	case (t.Moderator == nil) == (t.Verdict == nil):
		errs.Add("mod", ron.CodeInvalid, "[mod] must hold exactly one of a moderator entry and a verdict")
	case t.Moderator != nil:
		if !ron.ValidPayout(t.Moderator.Payout) {
			errs.Addf("mod.moderator.payout", ron.CodeFormat, "%q is not a payout address", t.Moderator.Payout)
		}
	default:
		if len(t.Verdict.Moderators) == 0 {
			errs.Add("mod.verdict.moderators", ron.CodeRequired, "a verdict needs at least one moderator")
		}
		for i, s := range t.Verdict.Moderators {
			if !ron.ValidPayout(s.Payout) {
				errs.Addf(fmt.Sprintf("mod.verdict.moderators[%d].payout", i), ron.CodeFormat, "%q is not a payout address", s.Payout)
			}
			if s.Weight == 0 || s.Weight > MaxWeight {
				errs.Addf(fmt.Sprintf("mod.verdict.moderators[%d].weight", i), ron.CodeRange, "weight %d is not 1..%d", s.Weight, MaxWeight)
			}
		}
	}
	return t, errs.Err()
}

// parse decodes [mod] strictly and normalizes it, recording every problem
// in errs. ok is false when the table could not be decoded at all.
func parse(m *ron.Manifest, errs *ron.Errors) (t Table, ok bool) {
	var raw rawTable
	if err := m.Table(TLD, &raw); err != nil {
		errs.AddErr(TLD, err)
		return Table{}, false
	}
	t.TreasuryBPS = DefaultTreasuryBPS
	if raw.TreasuryBPS != nil {
		t.TreasuryBPS = *raw.TreasuryBPS
	}
	if t.TreasuryBPS < MinTreasuryBPS || t.TreasuryBPS > MaxTreasuryBPS {
		errs.Addf("mod.treasury_bps", ron.CodeRange, "%d basis points, want %d..%d", t.TreasuryBPS, MinTreasuryBPS, MaxTreasuryBPS)
	}
	hasM, hasV := present(raw.Moderator), present(raw.Verdict)
	switch {
	case hasM && hasV:
		errs.Add("mod", ron.CodeInvalid, "[mod] holds both a moderator entry and a verdict; publish them as two manifests")
		return t, false
	case hasM:
		var mo Moderator
		if err := decodeSub("mod.moderator", raw.Moderator, &mo); err != nil {
			errs.AddErr("mod.moderator", err)
			return t, false
		}
		t.Moderator = normalizeModerator(mo, errs)
	case hasV:
		var rv rawVerdict
		if err := decodeSub("mod.verdict", raw.Verdict, &rv); err != nil {
			errs.AddErr("mod.verdict", err)
			return t, false
		}
		t.Verdict = normalizeVerdict(rv, errs)
	default:
		errs.Add("mod", ron.CodeRequired, "[mod] needs a [mod.moderator] registry entry or a [mod.verdict]")
		return t, false
	}
	return t, true
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// decodeSub decodes the JSON object raw strictly into v, with error paths
// under path (the SDK's strict table decoder, on a one-table manifest).
func decodeSub(path string, raw json.RawMessage, v any) error {
	key, _ := json.Marshal(path) // a string: cannot fail
	doc := make([]byte, 0, len(key)+len(raw)+3)
	doc = append(append(append(append(append(doc, '{'), key...), ':'), raw...), '}')
	m, err := ron.ParseManifest(doc)
	if err != nil {
		return ron.Reject(path, ron.CodeSyntax, err.Error())
	}
	return m.Table(path, v)
}

func normalizeModerator(mo Moderator, errs *ron.Errors) *Moderator {
	const p = "mod.moderator"
	mo.Name = cleanText(mo.Name)
	checkText(errs, p+".name", mo.Name, MaxName)
	mo.Key = strings.TrimSpace(mo.Key)
	checkKey(errs, p+".key", mo.Key)
	mo.Payout = strings.TrimSpace(mo.Payout)
	checkPayout(errs, p+".payout", mo.Payout)
	mo.Charter = strings.TrimSpace(mo.Charter)
	checkCID(errs, p+".charter", mo.Charter)
	if mo.Stake > ron.MaxAmount {
		errs.Addf(p+".stake", ron.CodeRange, "stake %d is more than 2^53-1", mo.Stake)
	}
	if mo.Score > MaxScore {
		errs.Addf(p+".score", ron.CodeRange, "score %d is more than %d basis points", mo.Score, MaxScore)
	}
	if len(mo.Labels) == 0 {
		mo.Labels = labelNames()
	}
	labels := make([]string, 0, len(mo.Labels))
	for i, l := range mo.Labels {
		l = strings.ToLower(strings.TrimSpace(l))
		if !KnownLabel(l) {
			errs.Addf(fmt.Sprintf("%s.labels[%d]", p, i), CodeVocabulary, "%q is not a .mod label (%s)", l, strings.Join(labelNames(), ", "))
			continue
		}
		labels = append(labels, l)
	}
	sort.Strings(labels)
	mo.Labels = dedupe(labels)
	mo.Signature = strings.TrimSpace(mo.Signature)
	checkSignatureFormat(errs, p+".signature", mo.Signature)
	return &mo
}

func normalizeVerdict(rv rawVerdict, errs *ron.Errors) *Verdict {
	const p = "mod.verdict"
	v := &Verdict{
		Target: strings.TrimSpace(rv.Target),
		Label:  strings.ToLower(strings.TrimSpace(rv.Label)),
		Reason: cleanText(rv.Reason),
	}
	checkCID(errs, p+".target", v.Target)
	switch {
	case v.Label == "":
		errs.Add(p+".label", ron.CodeRequired, "a verdict needs a label")
	case !KnownLabel(v.Label):
		errs.Addf(p+".label", CodeVocabulary, "%q is not a .mod label (%s)", v.Label, strings.Join(labelNames(), ", "))
	}
	checkText(errs, p+".reason", v.Reason, MaxReason)
	v.Time = normalizeTime(errs, p+".time", rv.Time)

	switch n := len(rv.Moderators); {
	case n == 0:
		errs.Add(p+".moderators", ron.CodeRequired, "a verdict needs at least one moderator")
	case n > MaxModerators:
		errs.Addf(p+".moderators", ron.CodeRange, "%d moderators, at most %d", n, MaxModerators)
	}
	keys := map[string]int{}
	for i, rs := range rv.Moderators {
		path := fmt.Sprintf("%s.moderators[%d]", p, i)
		s := Signer{
			Key:       strings.TrimSpace(rs.Key),
			Payout:    strings.TrimSpace(rs.Payout),
			Weight:    DefaultWeight,
			Signature: strings.TrimSpace(rs.Signature),
			at:        i,
		}
		if rs.Weight != nil {
			s.Weight = *rs.Weight
		}
		if checkKey(errs, path+".key", s.Key) {
			if j, dup := keys[s.Key]; dup {
				errs.Addf(path+".key", ron.CodeDuplicate, "moderator %d already has key %s", j, s.Key)
			}
			keys[s.Key] = i
		}
		checkPayout(errs, path+".payout", s.Payout)
		if s.Weight == 0 || s.Weight > MaxWeight {
			errs.Addf(path+".weight", ron.CodeRange, "weight %d is not 1..%d", s.Weight, MaxWeight)
		}
		checkSignatureFormat(errs, path+".signature", s.Signature)
		v.Moderators = append(v.Moderators, s)
	}
	// The order of the moderators carries no meaning: sort them by key.
	sort.SliceStable(v.Moderators, func(i, j int) bool { return v.Moderators[i].Key < v.Moderators[j].Key })
	if v.Moderators == nil {
		v.Moderators = []Signer{}
	}
	return v
}

// normalizeTime checks an RFC 3339 time with an offset and returns it in
// UTC ("2026-03-01T12:00:00Z"; fractional seconds kept, trailing zeros cut).
func normalizeTime(errs *ron.Errors, path, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		errs.Add(path, ron.CodeRequired, "a verdict needs a time (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
		return s
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		errs.Addf(path, ron.CodeFormat, "%q is not an RFC 3339 date and time with an offset, e.g. 2026-03-01T12:00:00Z", s)
		return s
	}
	return tm.UTC().Format(time.RFC3339Nano)
}

func checkText(errs *ron.Errors, path, s string, max int) {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		errs.Add(path, ron.CodeRequired, "must not be empty")
	case n > max:
		errs.Addf(path, ron.CodeRange, "%d characters, at most %d", n, max)
	}
}

// KeyPrefix starts an ed25519 public key: "ed25519:<64 lowercase hex>".
const KeyPrefix = ronsig.KeyPrefix

func checkKey(errs *ron.Errors, path, s string) bool {
	if _, ok := ronsig.ParseKey(s); !ok {
		errs.Addf(path, ron.CodeFormat, "%q is not an ed25519 public key (ed25519:<64 lowercase hex>)", s)
		return false
	}
	return true
}

func checkSignatureFormat(errs *ron.Errors, path, s string) {
	if s == "" {
		errs.Add(path, ron.CodeRequired, "a signature is required (128 lowercase hex)")
		return
	}
	if _, ok := ronsig.ParseSignature(s); !ok {
		errs.Addf(path, ron.CodeFormat, "%q is not an ed25519 signature (128 lowercase hex)", s)
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

func checkPayout(errs *ron.Errors, path, s string) {
	if !ron.ValidPayout(s) {
		errs.Addf(path, ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", s)
	}
}

// cleanText trims s and collapses runs of white space to one space.
func cleanText(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// dedupe removes adjacent duplicates from a sorted slice.
func dedupe(s []string) []string {
	out := s[:0]
	for _, x := range s {
		if len(out) == 0 || x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}
