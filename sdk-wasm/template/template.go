package template

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/c"
)

// SDKModule is the SDK's module path.
const SDKModule = "github.com/ronhost/ronhost/sdk-wasm"

// DefaultSDKVersion is the SDK version a generated go.mod requires when
// Options.SDKVersion is empty.
const DefaultSDKVersion = "v0.1.0"

// Errors for callers to test with errors.Is.
var (
	ErrBadTLD  = errors.New("template: the TLD must be lowercase [a-z0-9-]{1,32}")
	ErrExists  = errors.New("template: file already exists")
	ErrBadLang = errors.New("template: the language must be go or c (rust: package sdk-rust of ronhost)")
)

// The templates: files/ is the Go plugin, c/ the C plugin (with the
// headers of package c beside it), shared/ what every language's plugin
// gets (testdata: data-driven cases and a sample input). The three
// templates, Rust's included, implement the same rules, so the same cases
// pass on each.
//
//go:embed files c shared
var files embed.FS

// Options adjust the generated files.
type Options struct {
	// Lang is "go" (the default) or "c".
	Lang string
	// Module is the generated module's path; default "example.com/ron-<tld>".
	Module string
	// SDKVersion is the SDK version to require; default DefaultSDKVersion.
	// With SDKReplace set, "v0.0.0" is used when it is empty.
	SDKVersion string
	// SDKReplace, if set, is a local directory holding the SDK; go.mod gets
	// a replace directive to it (made absolute), for developing against a
	// checkout of ronhost.
	SDKReplace string
	// RonhostVersion is what CI installs ronhost at; default "latest".
	RonhostVersion string
	// GoVersion is the go directive; default "1.26".
	GoVersion string
}

type data struct {
	TLD, Package, Module, GoVersion   string
	SDKModule, SDKVersion, SDKReplace string
	RonhostVersion                    string
}

// Files returns the generated files' paths (slash-separated, relative to
// the plugin directory) and contents, without touching the disk.
func Files(tld string, opts Options) (map[string][]byte, error) {
	if !ron.ValidTLD(tld) {
		return nil, fmt.Errorf("%w: %q", ErrBadTLD, tld)
	}
	d := data{
		TLD: tld, Package: "ron-" + tld, Module: opts.Module, GoVersion: opts.GoVersion,
		SDKModule: SDKModule, SDKVersion: opts.SDKVersion, RonhostVersion: opts.RonhostVersion,
	}
	if d.Module == "" {
		d.Module = "example.com/ron-" + tld
	}
	if d.GoVersion == "" {
		d.GoVersion = "1.26"
	}
	if d.RonhostVersion == "" {
		d.RonhostVersion = "latest"
	}
	if opts.SDKReplace != "" {
		abs, err := filepath.Abs(opts.SDKReplace)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		d.SDKReplace = filepath.ToSlash(abs)
		if d.SDKVersion == "" {
			d.SDKVersion = "v0.0.0"
		}
	}
	if d.SDKVersion == "" {
		d.SDKVersion = DefaultSDKVersion
	}
	root := "files"
	switch opts.Lang {
	case "", "go":
	case "c":
		root = "c"
	default:
		return nil, fmt.Errorf("%w: %q", ErrBadLang, opts.Lang)
	}
	out, err := render(root, d)
	if err != nil {
		return nil, err
	}
	shared, err := render("shared", d)
	if err != nil {
		return nil, err
	}
	for k, v := range shared {
		out[k] = v
	}
	if root == "c" {
		for _, h := range []string{"ron_plugin.h", "ron_sdk.h"} {
			b, err := c.Headers.ReadFile(h)
			if err != nil {
				return nil, fmt.Errorf("template: %w", err)
			}
			out[h] = b
		}
	}
	return out, nil
}

// Shared returns the files every language's template gets (testdata/:
// the cases and a sample validate input), for the TLD tld.
func Shared(tld string) (map[string][]byte, error) {
	if !ron.ValidTLD(tld) {
		return nil, fmt.Errorf("%w: %q", ErrBadTLD, tld)
	}
	return render("shared", data{TLD: tld})
}

// render executes every template under root.
func render(root string, d data) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(files, root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		t, err := template.New(path).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template: %s: %w", path, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return fmt.Errorf("template: %s: %w", path, err)
		}
		out[outputName(root, path)] = buf.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// outputName maps an embedded path to the generated file's path: the
// root prefix and ".tmpl" suffix go, "github/" becomes ".github/" and
// "gitignore" ".gitignore" (embed skips dot files, and a go.mod would make
// the directory a separate module, hence the suffix).
func outputName(root, path string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(path, root+"/"), ".tmpl")
	switch {
	case strings.HasPrefix(name, "github/"):
		name = "." + name
	case name == "gitignore":
		name = ".gitignore"
	}
	return name
}

// Write generates the plugin for tld into dir (created if needed). It
// refuses to overwrite any existing file (ErrExists) and writes nothing in
// that case.
func Write(dir, tld string, opts Options) error {
	fsys, err := Files(tld, opts)
	if err != nil {
		return err
	}
	return WriteFiles(dir, fsys)
}

// WriteFiles writes generated files (paths slash-separated, relative to
// dir) into dir, creating directories as needed. It refuses to overwrite
// any existing file (ErrExists) and writes nothing in that case.
func WriteFiles(dir string, fsys map[string][]byte) error {
	for name := range fsys {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, p)
		}
	}
	for name, content := range fsys {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return nil
}
