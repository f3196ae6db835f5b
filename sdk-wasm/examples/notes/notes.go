package notes

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// TLD is the namespace this plugin owns.
const TLD = "notes"

// Roles the split pays.
const (
	RoleAuthor   = "author"
	RoleOperator = "operator"
)

// Limits and defaults of the [notes] table.
const (
	MaxTitle           = 200
	MaxAuthors         = 32
	MaxTags            = 16
	DefaultLicense     = "all-rights-reserved"
	DefaultLanguage    = "en"
	DefaultOperatorBPS = 2000
	MaxOperatorBPS     = 5000
	ExcerptBytes       = 4096
)

// Table is the [notes] table.
type Table struct {
	Title       string   `json:"title"`
	Authors     []Author `json:"authors"`
	License     string   `json:"license,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Price       uint64   `json:"price"`
	Language    string   `json:"language,omitempty"`
	OperatorBPS *uint64  `json:"operator_bps,omitempty"`
}

// Author is one entry of [[notes.authors]].
type Author struct {
	Name   string `json:"name"`
	Payout string `json:"payout"`
	Share  uint64 `json:"share"` // basis points
}

// Plugin is the .notes plugin. Its zero value is ready to use.
type Plugin struct{}

var _ ron.Resolver = Plugin{}

// Example is the manifest describe offers to the conformance suite.
const Example = `{
  "meta": {"tld": "notes", "created": "2026-01-02T03:04:05Z"},
  "payload": {"cid": "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "size": 1234, "media_type": "text/markdown"},
  "notes": {
    "title": "  Field notes on WebAssembly ",
    "authors": [
      {"name": "Ada", "payout": "ron1ada", "share": 6000},
      {"name": "Grace", "payout": "ron1grace", "share": 4000}
    ],
    "license": "cc-by-4.0",
    "tags": ["WASM", "go", " wasm"],
    "price": 1200
  }
}`

// Describe implements ron.Plugin.
func (Plugin) Describe(ron.HostInfo) ron.Description {
	return ron.Description{
		TLD:      TLD,
		Name:     "Notes",
		Version:  "1.0.0",
		Summary:  "Short texts whose authors share the revenue by fixed shares.",
		Roles:    []string{RoleAuthor, RoleOperator},
		Examples: []*ron.Manifest{ron.MustManifest(Example)},
	}
}

// knownLicenses maps lowercase SPDX ids to their canonical spelling.
var knownLicenses = map[string]string{
	"cc0-1.0": "CC0-1.0", "cc-by-4.0": "CC-BY-4.0", "cc-by-sa-4.0": "CC-BY-SA-4.0",
	"cc-by-nc-4.0": "CC-BY-NC-4.0", "cc-by-nd-4.0": "CC-BY-ND-4.0", "mit": "MIT",
	"apache-2.0": "Apache-2.0", "all-rights-reserved": "all-rights-reserved",
}

// Validate implements ron.Plugin: it checks every field, reports every
// problem at once, and writes the normalized table back.
func (Plugin) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var errs ron.Errors
	meta, err := in.Manifest.Meta()
	if err != nil {
		return ron.ValidateOutput{}, err
	}
	if meta.TLD != TLD || in.Context.TLD != TLD {
		errs.Addf("meta.tld", ron.CodeInvalid, "the manifest is for %q and the address for %q, want %q", meta.TLD, in.Context.TLD, TLD)
	}
	if in.Manifest.Has(ron.TablePayload) {
		p, err := in.Manifest.Payload()
		errs.AddErr("payload", err)
		if err == nil && p.MediaType != "" && !strings.HasPrefix(p.MediaType, "text/") {
			errs.Addf("payload.media_type", ron.CodeInvalid, "a note is text, not %q", p.MediaType)
		}
	}
	var t Table
	if err := in.Manifest.Table(TLD, &t); err != nil {
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
	return ron.ValidateOutput{Manifest: out, Index: ron.Index{Title: norm.Title, Tags: norm.Tags}}, nil
}

// normalize checks t and returns it with defaults written out.
func normalize(t Table, errs *ron.Errors) Table {
	t.Title = cleanText(t.Title)
	switch n := utf8.RuneCountInString(t.Title); {
	case n == 0:
		errs.Add("notes.title", ron.CodeRequired, "a note needs a title")
	case n > MaxTitle:
		errs.Addf("notes.title", ron.CodeRange, "the title has %d characters, at most %d", n, MaxTitle)
	}

	switch {
	case len(t.Authors) == 0:
		errs.Add("notes.authors", ron.CodeRequired, "a note needs at least one author")
	case len(t.Authors) > MaxAuthors:
		errs.Addf("notes.authors", ron.CodeRange, "%d authors, at most %d", len(t.Authors), MaxAuthors)
	}
	var total uint64
	payouts := map[string]int{}
	for i := range t.Authors {
		a := &t.Authors[i]
		path := fmt.Sprintf("notes.authors[%d]", i)
		a.Name = cleanText(a.Name)
		if a.Name == "" {
			errs.Add(path+".name", ron.CodeRequired, "an author needs a name")
		}
		a.Payout = strings.TrimSpace(a.Payout)
		if !ron.ValidPayout(a.Payout) {
			errs.Addf(path+".payout", ron.CodeFormat, "%q is not a payout address ([a-z0-9][a-z0-9:._-]{2,127})", a.Payout)
		} else if j, dup := payouts[a.Payout]; dup {
			errs.Addf(path+".payout", ron.CodeDuplicate, "author %d already has payout %q", j, a.Payout)
		}
		payouts[a.Payout] = i
		if a.Share == 0 || a.Share > ron.TotalBPS {
			errs.Addf(path+".share", ron.CodeRange, "share %d is not 1..10000 basis points", a.Share)
		}
		total += min(a.Share, ron.TotalBPS)
	}
	if len(t.Authors) > 0 && total != ron.TotalBPS {
		errs.Addf("notes.authors", ron.CodeInvalid, "shares total %d basis points, want 10000", total)
	}

	if t.License == "" {
		t.License = DefaultLicense
	}
	if canon, ok := knownLicenses[strings.ToLower(strings.TrimSpace(t.License))]; ok {
		t.License = canon
	} else {
		errs.Addf("notes.license", ron.CodeInvalid, "unknown license %q", t.License)
	}

	tags := make([]string, 0, len(t.Tags))
	seen := map[string]bool{}
	for i, tag := range t.Tags {
		tag = strings.ToLower(strings.TrimSpace(tag))
		if !ron.ValidTLD(tag) { // same alphabet as a TLD: [a-z0-9-]{1,32}
			errs.Addf(fmt.Sprintf("notes.tags[%d]", i), ron.CodeFormat, "tag %q is not [a-z0-9-]{1,32}", tag)
			continue
		}
		if !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	sort.Strings(tags)
	if len(tags) > MaxTags {
		errs.Addf("notes.tags", ron.CodeRange, "%d distinct tags, at most %d", len(tags), MaxTags)
	}
	t.Tags = tags

	if t.Price > ron.MaxAmount {
		errs.Addf("notes.price", ron.CodeRange, "price %d is more than 2^53-1", t.Price)
	}
	t.Language = strings.ToLower(strings.TrimSpace(t.Language))
	if t.Language == "" {
		t.Language = DefaultLanguage
	}
	if n := len(t.Language); n < 2 || n > 8 || strings.Trim(t.Language, "abcdefghijklmnopqrstuvwxyz-") != "" {
		errs.Addf("notes.language", ron.CodeFormat, "%q is not a language tag", t.Language)
	}
	bps := uint64(DefaultOperatorBPS)
	if t.OperatorBPS != nil {
		bps = *t.OperatorBPS
	}
	if bps > MaxOperatorBPS {
		errs.Addf("notes.operator_bps", ron.CodeRange, "%d basis points, at most %d", bps, MaxOperatorBPS)
	}
	t.OperatorBPS = &bps
	return t
}

// cleanText trims s and collapses runs of white space to one space.
func cleanText(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// Split implements ron.Plugin: operator_bps of the amount to the servers by
// bytes served, the rest to the authors by share.
func (Plugin) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	var t Table
	if err := in.Manifest.Table(TLD, &t); err != nil {
		return nil, err
	}
	bps := uint64(DefaultOperatorBPS)
	if t.OperatorBPS != nil {
		bps = min(*t.OperatorBPS, MaxOperatorBPS)
	}
	var servers []ron.Weight
	for _, s := range in.Usage.Servers {
		if s.Payout != "" && s.Bytes > 0 {
			servers = append(servers, ron.Weight{Payee: s.Payout, Role: RoleOperator, Weight: s.Bytes})
		}
	}
	opPart := uint64(0)
	if len(servers) > 0 {
		opPart = ron.Portion(in.Amount, bps)
	}
	shares := make([]ron.Share, len(t.Authors))
	for i, a := range t.Authors {
		shares[i] = ron.Share{Payee: a.Payout, Role: RoleAuthor, BPS: a.Share}
	}
	out, err := ron.SplitBPS(in.Amount-opPart, shares)
	if err != nil {
		return nil, ron.Reject("notes.authors", ron.CodeInvalid, err.Error())
	}
	if opPart > 0 {
		ops, err := ron.SplitWeighted(opPart, servers)
		if err != nil {
			return nil, ron.Reject("usage.servers", ron.CodeInvalid, err.Error())
		}
		out = append(out, ops...)
	}
	return out, nil
}

// Resolve implements ron.Resolver: "/" is the whole note, "/excerpt" its
// first paragraph (at most ExcerptBytes, cut at a character boundary).
func (Plugin) Resolve(in ron.ResolveInput, obj ron.Object) (ron.ResolveOutput, error) {
	ct := "text/markdown; charset=utf-8"
	if p, err := in.Manifest.Payload(); err == nil && p.MediaType != "" {
		ct = p.MediaType
	}
	switch in.Path {
	case "", "/":
		return ron.Serve(ct, 0, in.PayloadSize), nil
	case "/excerpt":
		buf := make([]byte, min(in.PayloadSize, ExcerptBytes))
		n, err := obj.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return ron.ResolveOutput{}, err
		}
		buf = buf[:n]
		if i := bytes.Index(buf, []byte("\n\n")); i >= 0 {
			buf = buf[:i]
		}
		for len(buf) > 0 && !utf8.Valid(buf) {
			buf = buf[:len(buf)-1]
		}
		return ron.Serve(ct, 0, uint64(len(buf))), nil
	}
	return ron.NotFound(), nil
}
