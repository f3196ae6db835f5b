package sdkrust

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	plugintemplate "github.com/ronhost/ronhost/sdk-wasm/template"
)

// The crate's sources (vendored into every generated plugin as
// ron-plugin/) and the template of a plugin.
//
//go:embed Cargo.toml src template
var files embed.FS

// Options adjust the generated files.
type Options struct {
	// RonhostVersion is what CI installs ronhost at; default "latest".
	RonhostVersion string
	// GoVersion is the Go that CI installs ronhost with; default "1.26".
	GoVersion string
}

type data struct {
	TLD, Package, Crate, GoVersion, RonhostVersion string
}

// Files returns a new Rust plugin for tld: the crate (Cargo.toml, src/lib.rs
// with the same rules as the Go and C templates, native tests), a Makefile,
// .cargo/config.toml (Debian's crates, offline), the SDK under ron-plugin/,
// a CI workflow and testdata/ (the cases every template shares). Paths are
// slash-separated, relative to the plugin's directory.
func Files(tld string, opts Options) (map[string][]byte, error) {
	if !ron.ValidTLD(tld) {
		return nil, fmt.Errorf("%w: %q", plugintemplate.ErrBadTLD, tld)
	}
	d := data{TLD: tld, Package: "ron-" + tld, Crate: "ron_" + strings.ReplaceAll(tld, "-", "_"),
		GoVersion: opts.GoVersion, RonhostVersion: opts.RonhostVersion}
	if d.GoVersion == "" {
		d.GoVersion = "1.26"
	}
	if d.RonhostVersion == "" {
		d.RonhostVersion = "latest"
	}
	out, err := plugintemplate.Shared(tld)
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(files, "template", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("sdkrust: %s: %w", p, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return fmt.Errorf("sdkrust: %s: %w", p, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "template/"), ".tmpl")
		switch {
		case strings.HasPrefix(name, "github/"), strings.HasPrefix(name, "cargo/"):
			name = "." + name
		case name == "gitignore":
			name = ".gitignore"
		}
		out[name] = buf.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	sdk, err := SDK()
	if err != nil {
		return nil, err
	}
	for name, b := range sdk {
		out[path.Join("ron-plugin", name)] = b
	}
	return out, nil
}

// SDK returns the crate ron-plugin as a plugin vendors it: src/ as it is,
// and Cargo.toml without what only this repository's workspace needs (the
// [workspace], [profile.*] and [[example]] sections).
func SDK() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(files, "src", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	manifest, err := files.ReadFile("Cargo.toml")
	if err != nil {
		return nil, err
	}
	var kept []string
	skip := false
	for _, line := range strings.Split(string(manifest), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "[") {
			skip = t == "[workspace]" || strings.HasPrefix(t, "[profile.") || t == "[[example]]"
		}
		if !skip {
			kept = append(kept, line)
		}
	}
	// Comments that introduced a dropped section end the kept text.
	out["Cargo.toml"] = []byte(trimTrailingComments(strings.Join(kept, "\n")) + "\n")
	return out, nil
}

// trimTrailingComments drops comment lines at the end of text (they
// belonged to a section that was dropped).
func trimTrailingComments(text string) string {
	lines := strings.Split(text, "\n")
	for len(lines) > 0 {
		t := strings.TrimSpace(lines[len(lines)-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// Write generates the plugin for tld into dir; it refuses to overwrite any
// file (template.ErrExists) and then writes nothing.
func Write(dir, tld string, opts Options) error {
	fsys, err := Files(tld, opts)
	if err != nil {
		return err
	}
	return plugintemplate.WriteFiles(dir, fsys)
}
