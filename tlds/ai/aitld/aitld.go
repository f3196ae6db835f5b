package aitld

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// TLD is the namespace this plugin owns.
const TLD = "ai"

// Version is the plugin's version (describe).
const Version = "1.0.0"

// Roles the split pays.
const (
	RoleCreator     = "creator"     // the creators of the model, dataset or service, by shares
	RoleContributor = "contributor" // the dataset contributors, by declared weights
	RoleCompute     = "compute"     // the compute operators, by usage
	RoleModeration  = "moderation"  // the moderation pool
)

// Kinds ([ai] kind).
const (
	KindModel     = "model"     // model weights
	KindDataset   = "dataset"   // a dataset
	KindInference = "inference" // an inference service running a model
)

// Limits and defaults of the [ai] table.
const (
	MaxCreators        = 32
	MaxContributors    = 256
	MaxProviders       = 64
	MaxTrainingData    = 256
	MaxNameRunes       = 200
	MaxArchitecture    = 200
	MaxIntendedUse     = 2000
	MaxLimitations     = 4000
	MaxLicenseBytes    = ron.MaxLicenseBytes
	MaxNodeBytes       = 128
	DefaultComputeBPS  = 2000
	DefaultModeration  = 500
	MinModerationBPS   = 100
	DefaultContributor = 1500 // contributors_bps when contributors are declared
	// ModerationPool is the payee of the moderation part; a manifest
	// cannot redirect it.
	ModerationPool = "pool:moderation"
)

// Error codes beyond the SDK's (see the README's table).
const (
	CodeMismatch = "mismatch"      // a value contradicts another (meta.tld)
	CodeEnum     = "enum"          // a value outside a documented vocabulary
	CodeKind     = "kind"          // a key that does not apply to this kind
	CodeSum      = ron.CodeSum     // basis points that do not total 10000
	CodeLicense  = ron.CodeLicense // a license identifier that is not a known SPDX id
)

// Table is the [ai] table as a manifest may write it.
type Table struct {
	Kind         string        `json:"kind"`
	Model        *string       `json:"model"`
	Card         *Card         `json:"card"`
	Pricing      *Pricing      `json:"pricing"`
	Providers    []Provider    `json:"providers"`
	Creators     []Creator     `json:"creators"`
	Contributors []Contributor `json:"contributors"`
	Split        *SplitTable   `json:"split"`
}

// rawTable is Table with nested tables undecoded, so their errors can be
// reported at their full paths.
type rawTable struct {
	Kind         string            `json:"kind"`
	Model        *string           `json:"model"`
	Card         json.RawMessage   `json:"card"`
	Pricing      json.RawMessage   `json:"pricing"`
	Providers    []json.RawMessage `json:"providers"`
	Creators     []json.RawMessage `json:"creators"`
	Contributors []json.RawMessage `json:"contributors"`
	Split        json.RawMessage   `json:"split"`
}

// Card is [ai.card], the model card (also the data card of a dataset).
type Card struct {
	Architecture *string  `json:"architecture"`
	Parameters   *uint64  `json:"parameters"`
	License      string   `json:"license"`
	TrainingData []string `json:"training_data"`
	IntendedUse  string   `json:"intended_use"`
	Limitations  string   `json:"limitations"`
}

// Pricing is [ai.pricing], in minor units.
type Pricing struct {
	PerCall     *uint64 `json:"per_call"`
	Per1KTokens *uint64 `json:"per_1k_tokens"`
}

// Provider is one entry of [[ai.providers]]: a node that runs the
// inference service (or serves the weights or data).
type Provider struct {
	Name   string `json:"name"`
	Node   string `json:"node"`
	Payout string `json:"payout"`
}

// Creator is one entry of [[ai.creators]].
type Creator struct {
	Name   string  `json:"name"`
	Payout string  `json:"payout"`
	Share  *uint64 `json:"share"`
}

// Contributor is one entry of [[ai.contributors]].
type Contributor struct {
	Name   string `json:"name"`
	Payout string `json:"payout"`
	Weight uint64 `json:"weight"`
}

// SplitTable is [ai.split], basis points totalling 10000.
type SplitTable struct {
	CreatorsBPS     *uint64 `json:"creators_bps"`
	ContributorsBPS *uint64 `json:"contributors_bps"`
	ComputeBPS      *uint64 `json:"compute_bps"`
	ModerationBPS   *uint64 `json:"moderation_bps"`
}

// Normalized is the [ai] table validate writes back.
type Normalized struct {
	Kind         string         `json:"kind"`
	Model        *string        `json:"model,omitempty"` // inference only
	Card         *NormCard      `json:"card,omitempty"`  // absent only for an inference service without one
	Pricing      NormPricing    `json:"pricing"`
	Providers    []Provider     `json:"providers"`
	Creators     []NormCreator  `json:"creators"`
	Contributors []Contributor  `json:"contributors"`
	Split        NormSplitTable `json:"split"`
}

// NormCard is a normalized card; architecture and parameters are written
// for models only.
type NormCard struct {
	Architecture *string  `json:"architecture,omitempty"`
	Parameters   *uint64  `json:"parameters,omitempty"`
	License      string   `json:"license"`
	TrainingData []string `json:"training_data"`
	IntendedUse  string   `json:"intended_use"`
	Limitations  string   `json:"limitations"`
}

// NormPricing is normalized pricing.
type NormPricing struct {
	PerCall     uint64 `json:"per_call"`
	Per1KTokens uint64 `json:"per_1k_tokens"`
}

// NormCreator is a normalized creator.
type NormCreator struct {
	Name   string `json:"name"`
	Payout string `json:"payout"`
	Share  uint64 `json:"share"`
}

// NormSplitTable is a normalized [ai.split].
type NormSplitTable struct {
	CreatorsBPS     uint64 `json:"creators_bps"`
	ContributorsBPS uint64 `json:"contributors_bps"`
	ComputeBPS      uint64 `json:"compute_bps"`
	ModerationBPS   uint64 `json:"moderation_bps"`
}

// Plugin is the .ai plugin. Its zero value is ready to use.
type Plugin struct{}

// New returns the plugin.
func New() Plugin { return Plugin{} }

var _ ron.Resolver = Plugin{}

// Example is the first manifest describe offers: model weights with a full
// card, two creators and dataset contributors.
const Example = `{
  "meta": {"tld": "ai", "title": "Tern 7B", "created": "2026-05-04T12:00:00Z", "tags": ["LLM", "text"]},
  "payload": {"cid": "b3:9a3f1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d", "size": 14483464192, "media_type": "application/octet-stream", "filename": "tern-7b.safetensors"},
  "ai": {
    "kind": "Model",
    "card": {
      "architecture": "decoder-only  transformer",
      "parameters": 7241732096,
      "license": "apache-2.0",
      "training_data": [
        "b3:7e1c2d3f4a5b6c7d8e9fa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1",
        "b3:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
      ],
      "intended_use": "General text generation and summarization in English and French.",
      "limitations": "May state falsehoods; not evaluated for medical or legal advice."
    },
    "pricing": {"per_call": 0},
    "creators": [
      {"name": "Tern Lab", "payout": "ron1ternlab", "share": 8000},
      {"name": "Grace", "payout": "ron1grace", "share": 2000}
    ],
    "contributors": [
      {"name": "Open Web Corpus", "payout": "ron1owc", "weight": 700},
      {"name": "Parliament Transcripts", "payout": "ron1parl", "weight": 300}
    ]
  }
}`

// ExampleInference is the second: an inference service for that model,
// priced per call and per 1000 tokens, run by two providers.
const ExampleInference = `{
  "meta": {"tld": "ai", "title": "Tern 7B chat API"},
  "payload": {"cid": "b3:1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ffee", "size": 2048, "media_type": "application/json"},
  "ai": {
    "kind": "inference",
    "model": "b3:4c3b2a19f8e7d6c5b4a3928170f6e5d4c3b2a19f8e7d6c5b4a3928170f6e5d4c",
    "pricing": {"per_call": 5, "per_1k_tokens": 120},
    "providers": [
      {"name": "GPU Coop Lyon", "node": "node-lyon-1", "payout": "ron1gpucoop"},
      {"name": "Aurora Compute", "node": "node-aurora", "payout": "ron1aurora"}
    ],
    "creators": [{"name": "Tern Lab", "payout": "ron1ternlab"}],
    "split": {"compute_bps": 6000}
  }
}`

// Describe implements ron.Plugin.
func (Plugin) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD:      TLD,
		Name:     "AI models, datasets and inference",
		Version:  Version,
		Summary:  "Models, datasets and inference services with model cards; revenue to creators, data contributors, compute and moderation.",
		Roles:    []string{RoleCreator, RoleContributor, RoleCompute, RoleModeration},
		Examples: []*ron.Manifest{ron.MustManifest(Example), ron.MustManifest(ExampleInference)},
	}
}

// Validate implements ron.Plugin.
func (Plugin) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var errs ron.Errors
	meta, err := in.Manifest.Meta()
	if err != nil {
		return ron.ValidateOutput{}, err
	}
	if meta.TLD != TLD {
		errs.Addf("meta.tld", CodeMismatch, "the manifest is for .%s, this plugin owns .%s", meta.TLD, TLD)
	} else if in.Context.TLD != "" && in.Context.TLD != TLD {
		errs.Addf("meta.tld", CodeMismatch, "the manifest is for .%s but the address is .%s", meta.TLD, in.Context.TLD)
	}
	for _, name := range in.Manifest.Names() {
		if name != ron.TableMeta && name != ron.TablePayload && name != TLD {
			errs.Addf(name, ron.CodeUnknown, "unknown table [%s]; an .ai manifest has [meta], [payload] and [ai]", name)
		}
	}
	if in.Manifest.Has(ron.TablePayload) {
		_, err := in.Manifest.Payload()
		errs.AddErr("payload", err)
	}
	t, err := decodeTable(in.Manifest)
	if err != nil {
		errs.AddErr(TLD, err)
		return ron.ValidateOutput{}, errs.Err()
	}
	norm := normalize(t, &errs)
	if err := errs.Err(); err != nil {
		return ron.ValidateOutput{}, err
	}
	out := in.Manifest.Clone()
	if err := out.Set(TLD, norm); err != nil {
		return ron.ValidateOutput{}, err
	}
	return ron.ValidateOutput{Manifest: out, Index: index(meta, norm)}, nil
}

// decodeTable decodes the [ai] table strictly, with errors at full paths
// ("ai.card.parameters", "ai.creators[1].share").
func decodeTable(m *ron.Manifest) (Table, error) {
	// One strict pass decodes a well-formed table; only a table with a
	// problem is decoded again piece by piece to locate it.
	var t Table
	if m.Table(TLD, &t) == nil {
		return t, nil
	}
	var raw rawTable
	if err := m.Table(TLD, &raw); err != nil {
		return Table{}, err
	}
	t = Table{Kind: raw.Kind, Model: raw.Model}
	var errs ron.Errors
	if raw.Card != nil {
		t.Card = &Card{}
		errs.AddErr("ai.card", decodeSub("ai.card", raw.Card, t.Card))
	}
	if raw.Pricing != nil {
		t.Pricing = &Pricing{}
		errs.AddErr("ai.pricing", decodeSub("ai.pricing", raw.Pricing, t.Pricing))
	}
	if raw.Split != nil {
		t.Split = &SplitTable{}
		errs.AddErr("ai.split", decodeSub("ai.split", raw.Split, t.Split))
	}
	if raw.Providers != nil {
		t.Providers = make([]Provider, len(raw.Providers))
		for i, r := range raw.Providers {
			errs.AddErr("ai.providers", decodeSub(fmt.Sprintf("ai.providers[%d]", i), r, &t.Providers[i]))
		}
	}
	if raw.Creators != nil {
		t.Creators = make([]Creator, len(raw.Creators))
		for i, r := range raw.Creators {
			errs.AddErr("ai.creators", decodeSub(fmt.Sprintf("ai.creators[%d]", i), r, &t.Creators[i]))
		}
	}
	if raw.Contributors != nil {
		t.Contributors = make([]Contributor, len(raw.Contributors))
		for i, r := range raw.Contributors {
			errs.AddErr("ai.contributors", decodeSub(fmt.Sprintf("ai.contributors[%d]", i), r, &t.Contributors[i]))
		}
	}
	return t, errs.Err()
}

// decodeSub decodes the JSON value raw into v strictly, as the SDK decodes
// a manifest's table, with errors at path.
func decodeSub(path string, raw json.RawMessage, v any) error {
	key, _ := json.Marshal(path)
	doc, err := ron.ParseManifest([]byte("{" + string(key) + ":" + string(raw) + "}"))
	if err != nil {
		return ron.Reject(path, ron.CodeSyntax, err.Error())
	}
	return doc.Table(path, v)
}

// index is the [meta] title and tags (lowercased) plus the kind.
func index(meta ron.Meta, n Normalized) ron.Index {
	seen := map[string]bool{n.Kind: true}
	tags := []string{n.Kind}
	for _, tag := range meta.Tags {
		tag = strings.ToLower(cleanText(tag))
		if tag != "" && !seen[tag] && len(tags) < 32 {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	sort.Strings(tags)
	return ron.Index{Title: cleanText(meta.Title), Tags: tags}
}

// normalize checks t, recording problems in errs, and returns it with every
// default written out.
func normalize(t Table, errs *ron.Errors) Normalized {
	n := Normalized{Kind: strings.ToLower(strings.TrimSpace(t.Kind))}
	kind := n.Kind // "" when unknown: the checks that depend on it are skipped
	switch n.Kind {
	case KindModel, KindDataset, KindInference:
	case "":
		errs.Add("ai.kind", ron.CodeRequired, "a kind is required: model, dataset or inference")
	default:
		errs.Addf("ai.kind", CodeEnum, "kind %q is not model, dataset or inference", t.Kind)
		kind = ""
	}

	if t.Model != nil {
		m := strings.TrimSpace(*t.Model)
		switch {
		case kind != KindInference && kind != "":
			errs.Addf("ai.model", CodeKind, "only an inference service names the model it runs, not a %s", kind)
		case !ron.ValidCID(m):
			errs.Addf("ai.model", ron.CodeFormat, "%q is not a CID (b3:<64 lowercase hex>)", m)
		default:
			n.Model = &m
		}
	} else if kind == KindInference {
		errs.Add("ai.model", ron.CodeRequired, "an inference service names the model it runs (the CID of its manifest)")
	}

	n.Card = normalizeCard(kind, t.Card, errs)
	n.Pricing = normalizePricing(kind, t.Pricing, errs)
	n.Providers = normalizeProviders(kind, t.Providers, errs)
	n.Creators = normalizeCreators(t.Creators, errs)
	n.Contributors = normalizeContributors(t.Contributors, errs)
	n.Split = normalizeSplit(t.Split, len(n.Contributors) > 0, errs)
	return n
}

func normalizeCard(kind string, c *Card, errs *ron.Errors) *NormCard {
	if c == nil {
		if kind == KindModel || kind == KindDataset {
			errs.Addf("ai.card", ron.CodeRequired, "a %s needs a card ([ai.card]: license, intended_use, limitations)", kind)
		}
		return nil
	}
	n := &NormCard{TrainingData: []string{}}
	if kind != KindDataset {
		if c.Architecture != nil {
			a := cleanText(*c.Architecture)
			n.Architecture = &a
			switch r := utf8.RuneCountInString(a); {
			case hasControl(a):
				errs.Add("ai.card.architecture", ron.CodeFormat, "the architecture has a control character")
			case r == 0:
				errs.Add("ai.card.architecture", ron.CodeRequired, "the architecture is empty")
			case r > MaxArchitecture:
				errs.Addf("ai.card.architecture", ron.CodeRange, "the architecture has %d characters, at most %d", r, MaxArchitecture)
			}
		} else if kind == KindModel {
			errs.Add("ai.card.architecture", ron.CodeRequired, "a model card gives the architecture (e.g. \"decoder-only transformer\")")
		}
		if c.Parameters != nil {
			p := *c.Parameters
			n.Parameters = &p
			if p == 0 || p > ron.MaxAmount {
				errs.Addf("ai.card.parameters", ron.CodeRange, "parameter count %d is not 1..2^53-1", p)
			}
		} else if kind == KindModel {
			errs.Add("ai.card.parameters", ron.CodeRequired, "a model card gives the parameter count")
		}
	} else {
		if c.Architecture != nil {
			errs.Addf("ai.card.architecture", CodeKind, "a %s has no architecture", kind)
		}
		if c.Parameters != nil {
			errs.Addf("ai.card.parameters", CodeKind, "a %s has no parameter count", kind)
		}
	}
	lic, fe := normalizeLicense(c.License)
	if fe != nil {
		errs.Add("ai.card.license", fe.Code, fe.Message)
	}
	n.License = lic

	seen := map[string]int{}
	if len(c.TrainingData) > MaxTrainingData {
		errs.Addf("ai.card.training_data", ron.CodeRange, "%d training data CIDs, at most %d", len(c.TrainingData), MaxTrainingData)
	}
	for i, cid := range c.TrainingData {
		cid = strings.TrimSpace(cid)
		path := fmt.Sprintf("ai.card.training_data[%d]", i)
		if !ron.ValidCID(cid) {
			errs.Addf(path, ron.CodeFormat, "%q is not a CID (b3:<64 lowercase hex>)", cid)
			continue
		}
		if j, dup := seen[cid]; dup {
			errs.Addf(path, ron.CodeDuplicate, "the same CID as training_data[%d]", j)
			continue
		}
		seen[cid] = i
		n.TrainingData = append(n.TrainingData, cid)
	}
	sort.Strings(n.TrainingData)

	n.IntendedUse = cleanParagraphs(c.IntendedUse)
	n.Limitations = cleanParagraphs(c.Limitations)
	for _, f := range []struct {
		path, what, v string
		max           int
	}{
		{"ai.card.intended_use", "intended use", n.IntendedUse, MaxIntendedUse},
		{"ai.card.limitations", "limitations", n.Limitations, MaxLimitations},
	} {
		switch r := utf8.RuneCountInString(f.v); {
		case r == 0:
			errs.Addf(f.path, ron.CodeRequired, "a card states its %s", f.what)
		case r > f.max:
			errs.Addf(f.path, ron.CodeRange, "the %s have %d characters, at most %d", f.what, r, f.max)
		case strings.ContainsFunc(f.v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
			errs.Addf(f.path, ron.CodeFormat, "the %s have a control character", f.what)
		}
	}
	return n
}

func normalizePricing(kind string, p *Pricing, errs *ron.Errors) NormPricing {
	var n NormPricing
	if p == nil {
		return n
	}
	if p.PerCall != nil {
		n.PerCall = *p.PerCall
	}
	if p.Per1KTokens != nil {
		n.Per1KTokens = *p.Per1KTokens
		if kind != KindInference && kind != "" && n.Per1KTokens > 0 {
			errs.Addf("ai.pricing.per_1k_tokens", CodeKind, "only an inference service is priced per token, not a %s", kind)
		}
	}
	for _, f := range []struct {
		path string
		v    uint64
	}{{"ai.pricing.per_call", n.PerCall}, {"ai.pricing.per_1k_tokens", n.Per1KTokens}} {
		if f.v > ron.MaxAmount {
			errs.Addf(f.path, ron.CodeRange, "%d minor units is more than 2^53-1", f.v)
		}
	}
	return n
}

func normalizeProviders(kind string, ps []Provider, errs *ron.Errors) []Provider {
	switch {
	case len(ps) == 0 && kind == KindInference:
		errs.Add("ai.providers", ron.CodeRequired, "an inference service names at least one compute provider")
	case len(ps) > MaxProviders:
		errs.Addf("ai.providers", ron.CodeRange, "%d providers, at most %d", len(ps), MaxProviders)
		return []Provider{}
	}
	out := make([]Provider, 0, len(ps))
	nodes := map[string]int{}
	for i, p := range ps {
		path := fmt.Sprintf("ai.providers[%d]", i)
		np := Provider{Name: cleanText(p.Name), Node: strings.TrimSpace(p.Node), Payout: strings.TrimSpace(p.Payout)}
		checkName(path+".name", np.Name, "a provider", errs)
		switch j, dup := nodes[np.Node]; {
		case np.Node == "":
			errs.Add(path+".node", ron.CodeRequired, "a provider names its node")
		case !validNode(np.Node):
			errs.Addf(path+".node", ron.CodeFormat, "%q is not a node id ([A-Za-z0-9._:-]{1,128})", np.Node)
		case dup:
			errs.Addf(path+".node", ron.CodeDuplicate, "provider %d already names node %q", j, np.Node)
		default:
			nodes[np.Node] = i
		}
		checkPayout(path+".payout", np.Payout, errs)
		out = append(out, np)
	}
	// The order of providers means nothing: canonical by node.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

func normalizeCreators(cs []Creator, errs *ron.Errors) []NormCreator {
	switch {
	case len(cs) == 0:
		errs.Add("ai.creators", ron.CodeRequired, "at least one creator is required")
		return []NormCreator{}
	case len(cs) > MaxCreators:
		errs.Addf("ai.creators", ron.CodeRange, "%d creators, at most %d", len(cs), MaxCreators)
		return []NormCreator{}
	}
	out := make([]NormCreator, len(cs))
	payouts := map[string]int{}
	declared := make([]*uint64, len(cs))
	for i, c := range cs {
		declared[i] = c.Share
	}
	shares := ron.CheckShares("ai.creators", "creators", declared, errs)
	for i, c := range cs {
		path := fmt.Sprintf("ai.creators[%d]", i)
		nc := NormCreator{Name: cleanText(c.Name), Payout: strings.TrimSpace(c.Payout)}
		checkName(path+".name", nc.Name, "a creator", errs)
		if checkPayout(path+".payout", nc.Payout, errs) {
			if j, dup := payouts[nc.Payout]; dup {
				errs.Addf(path+".payout", ron.CodeDuplicate, "creator %d already has payout %q", j, nc.Payout)
			}
			payouts[nc.Payout] = i
		}
		nc.Share = shares[i]
		out[i] = nc
	}
	return out
}

func normalizeContributors(cs []Contributor, errs *ron.Errors) []Contributor {
	if len(cs) > MaxContributors {
		errs.Addf("ai.contributors", ron.CodeRange, "%d contributors, at most %d", len(cs), MaxContributors)
		return []Contributor{}
	}
	out := make([]Contributor, len(cs))
	payouts := map[string]int{}
	for i, c := range cs {
		path := fmt.Sprintf("ai.contributors[%d]", i)
		nc := Contributor{Name: cleanText(c.Name), Payout: strings.TrimSpace(c.Payout), Weight: c.Weight}
		checkName(path+".name", nc.Name, "a contributor", errs)
		if checkPayout(path+".payout", nc.Payout, errs) {
			if j, dup := payouts[nc.Payout]; dup {
				errs.Addf(path+".payout", ron.CodeDuplicate, "contributor %d already has payout %q", j, nc.Payout)
			}
			payouts[nc.Payout] = i
		}
		if nc.Weight == 0 || nc.Weight > ron.MaxAmount {
			errs.Addf(path+".weight", ron.CodeRange, "weight %d is not 1..2^53-1", nc.Weight)
		}
		out[i] = nc
	}
	return out
}

func normalizeSplit(st *SplitTable, haveContributors bool, errs *ron.Errors) NormSplitTable {
	if st == nil {
		st = &SplitTable{}
	}
	contributors := uint64(0)
	if haveContributors {
		contributors = DefaultContributor
	}
	bps := ron.CheckSplitParts("ai.split", []ron.SplitPart{
		{Name: "creators", Path: "ai.split.creators_bps", Declared: st.CreatorsBPS},
		{Name: "contributors", Path: "ai.split.contributors_bps", Declared: st.ContributorsBPS, Default: contributors},
		{Name: "compute", Path: "ai.split.compute_bps", Declared: st.ComputeBPS, Default: DefaultComputeBPS},
		{Name: "moderation", Path: "ai.split.moderation_bps", Declared: st.ModerationBPS, Default: DefaultModeration},
	}, errs)
	n := NormSplitTable{CreatorsBPS: bps[0], ContributorsBPS: bps[1], ComputeBPS: bps[2], ModerationBPS: bps[3]}
	if n.ModerationBPS < MinModerationBPS {
		errs.Addf("ai.split.moderation_bps", ron.CodeRange, "the moderation pool takes at least %d basis points, not %d", MinModerationBPS, n.ModerationBPS)
	}
	if n.ContributorsBPS > 0 && !haveContributors {
		errs.Add("ai.contributors", ron.CodeRequired, "contributors_bps is more than 0 but no contributors are declared")
	}
	return n
}

func checkName(path, name, who string, errs *ron.Errors) {
	switch r := utf8.RuneCountInString(name); {
	case hasControl(name):
		errs.Add(path, ron.CodeFormat, "the name has a control character")
	case r == 0:
		errs.Addf(path, ron.CodeRequired, "%s needs a name", who)
	case r > MaxNameRunes:
		errs.Addf(path, ron.CodeRange, "the name has %d characters, at most %d", r, MaxNameRunes)
	}
}

// checkPayout records an error unless p is a payout address.
func checkPayout(path, p string, errs *ron.Errors) bool {
	switch {
	case p == "":
		errs.Add(path, ron.CodeRequired, "a payout address is required")
	case !ron.ValidPayout(p):
		errs.Addf(path, ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", p)
	default:
		return true
	}
	return false
}

// validNode reports whether s is a node id: [A-Za-z0-9._:-]{1,128}.
func validNode(s string) bool {
	if len(s) == 0 || len(s) > MaxNodeBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func hasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }

// cleanText trims s and collapses runs of white space to one space.
func cleanText(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// cleanParagraphs keeps the lines of a multi-line text: line endings
// become \n, each line loses its trailing white space, runs of blank lines
// become one, and the whole is trimmed.
func cleanParagraphs(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
