package tlds

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed build
var build embed.FS

// Builtin is one built-in plugin module.
type Builtin struct {
	TLD string
	// Hash is the module's plugin hash ("b3:<hex>") as make build wrote it
	// beside the module (NAME.wasm.b3), or "" when it did not.
	Hash string
	name string
}

// Wasm returns the module's bytes (a copy: embed.FS gives no other way),
// read when a plugin loads rather than at every start: the bytes of a
// built-in nobody asks for are never touched, so they stay out of the
// node's memory.
func (b Builtin) Wasm() ([]byte, error) { return build.ReadFile(path.Join("build", b.name)) }

// Builtins returns the embedded built-in plugins, sorted by TLD.
func Builtins() []Builtin {
	entries, err := fs.ReadDir(build, "build")
	if err != nil {
		return nil
	}
	var out []Builtin
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".wasm") {
			continue
		}
		b := Builtin{TLD: strings.TrimSuffix(name, ".wasm"), name: name}
		if h, err := build.ReadFile(path.Join("build", name+".b3")); err == nil {
			b.Hash = strings.TrimSpace(string(h))
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TLD < out[j].TLD })
	return out
}
