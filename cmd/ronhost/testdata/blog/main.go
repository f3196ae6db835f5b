// Command blog is the registry tests' plugin: a small TLD whose manifests
// carry [blog] title and author (a payout address), paid whole to the
// author. Build flags pick the variant: -X main.version=N for distinct
// modules, -X main.tld=NAME for another TLD, -X main.bad=1 for a module
// whose split loses the odd unit (the conformance suite must refuse it).
package main

import (
	"strings"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

var (
	version = "1"
	tld     = "blog"
	bad     = ""
)

type blog struct{}

type table struct {
	Title  string `json:"title"`
	Author string `json:"author"`
}

func (blog) Describe(ron.HostInfo) ron.Description {
	return ron.Description{TLD: tld, Name: "Blog (test)", Version: version, Summary: "a test plugin of the registry",
		Roles: []string{"author"}, Examples: []*ron.Manifest{ron.MustManifest(
			`{"meta":{"tld":"` + tld + `"},"blog":{"title":"Hello","author":"ron1author"}}`)}}
}

func (blog) Validate(in ron.ValidateInput) (ron.ValidateOutput, error) {
	var errs ron.Errors
	meta, err := in.Manifest.Meta()
	if err != nil {
		return ron.ValidateOutput{}, err
	}
	if meta.TLD != tld || in.Context.TLD != tld {
		errs.Addf("meta.tld", ron.CodeInvalid, "want .%s", tld)
	}
	var t table
	if err := in.Manifest.Table("blog", &t); err != nil {
		errs.AddErr("blog", err)
		return ron.ValidateOutput{}, errs.Err()
	}
	t.Title = strings.TrimSpace(t.Title)
	if t.Title == "" || len(t.Title) > 200 {
		errs.Add("blog.title", ron.CodeRange, "a title of 1 to 200 bytes")
	}
	if !ron.ValidPayout(t.Author) {
		errs.Add("blog.author", ron.CodeFormat, "the author is a payout address")
	}
	if err := errs.Err(); err != nil {
		return ron.ValidateOutput{}, err
	}
	out := in.Manifest.Clone()
	if err := out.Set("blog", t); err != nil {
		return ron.ValidateOutput{}, err
	}
	return ron.ValidateOutput{Manifest: out, Index: ron.Index{Title: t.Title, Tags: []string{}}}, nil
}

func (blog) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	var t table
	if err := in.Manifest.Table("blog", &t); err != nil {
		return nil, err
	}
	amount := in.Amount
	if bad != "" {
		amount -= amount % 2 // loses the odd unit
	}
	return []ron.Allocation{{Payee: t.Author, Role: "author", Amount: amount}}, nil
}

func init() { ron.Register(blog{}) }

func main() {}
