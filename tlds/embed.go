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
	TLD  string
	Wasm []byte
}

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
		b, err := build.ReadFile(path.Join("build", name))
		if err != nil {
			continue
		}
		out = append(out, Builtin{TLD: strings.TrimSuffix(name, ".wasm"), Wasm: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TLD < out[j].TLD })
	return out
}
