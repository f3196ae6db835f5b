package lint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// ArchitectureFile is where the package table lives, relative to a module's
// root.
const ArchitectureFile = "docs/ARCHITECTURE.md"

// Platforms are the GOOS/GOARCH pairs whose files the check reads: what the
// release builds (linux, darwin) and what plugins are built for (wasip1).
// Imports are the union over them, so a file behind a build constraint is
// checked too.
var Platforms = [][2]string{{"linux", "amd64"}, {"darwin", "arm64"}, {"wasip1", "wasm"}}

// A row is one line of the package table.
type row struct {
	line      int    // in ArchitectureFile
	pattern   string // module-relative; an element in capitals (NAME) is any one element
	ownModule bool   // the directory is a module of its own ("(own module)")
	cell      string // the "must not import" cell as written
	clauses   []clause
	problem   string // why the cell could not be read, if it could not
}

type kind int

const (
	nothing        kind = iota // nothing is forbidden
	forbidden                  // the listed packages
	anyModule                  // any package of the module but the listed ones
	anything                   // any import outside the standard library but the listed ones
	importedOnlyBy             // no package but the listed ones imports this one
)

type clause struct {
	kind  kind
	terms []string // Go package patterns: module-relative, or a full import path for another module
}

var termRE = regexp.MustCompile("`([^`]*)`")

// ParseRules reads one "must not import" cell. The cell is a list of clauses
// separated by semicolons; text in parentheses is a comment, and so is
// anything after a colon. A clause is one of:
//
//	nothing                      no rule (the top of the tree)
//	`a`, `b/...` or `c`          these packages (Go patterns, module-relative;
//	                             a path whose first element has a dot is
//	                             another module's: `github.com/nats-io/...`)
//	any ronhost package          any package of the module, but the
//	  [but `a`, `b`]             listed ones
//	anything [but `a`, `b`]      any import outside the standard library,
//	                             but the listed ones
//	imported by nothing          a rule on the importers: no package
//	  [but `a`, `b`]             but the listed ones may import this one
//
// A package may always import its own row's subtree (`plugins` imports
// `internal/plugins/internal/meter`).
func ParseRules(cell string) ([]clause, error) {
	text := stripComments(cell)
	var out []clause
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var terms []string
		for _, m := range termRE.FindAllStringSubmatch(part, -1) {
			terms = append(terms, m[1])
		}
		for _, t := range terms {
			if err := checkTerm(t); err != nil {
				return nil, err
			}
		}
		prose := strings.Join(strings.Fields(strings.ToLower(termRE.ReplaceAllString(part, " "))), " ")
		prose = strings.TrimRight(prose, ".")
		c := clause{terms: terms}
		switch {
		case prose == "nothing":
			c.kind = nothing
		case prose == "imported by nothing", prose == "is imported by nothing":
			c.kind = importedOnlyBy
		case strings.HasPrefix(prose, "imported by nothing but"), strings.HasPrefix(prose, "is imported by nothing but"):
			c.kind = importedOnlyBy
			if len(terms) == 0 {
				return nil, fmt.Errorf("%q: but what? (name the importers in backquotes)", part)
			}
		case prose == "any ronhost package", prose == "any other ronhost package":
			c.kind = anyModule
		case strings.HasPrefix(prose, "any ronhost package but"), strings.HasPrefix(prose, "any other ronhost package but"):
			c.kind = anyModule
			if len(terms) == 0 {
				return nil, fmt.Errorf("%q: but what? (name the packages in backquotes)", part)
			}
		case prose == "anything":
			c.kind = anything
		case strings.HasPrefix(prose, "anything but"):
			c.kind = anything
			if len(terms) == 0 {
				return nil, fmt.Errorf("%q: but what? (name the packages in backquotes)", part)
			}
		default:
			if len(terms) == 0 || strings.Trim(strings.NewReplacer(",", " ", " and ", " ", " or ", " ").Replace(" "+prose+" "), " ") != "" {
				return nil, fmt.Errorf("cannot read %q: write packages in backquotes (`core/node`, `github.com/nats-io/...`), \"any ronhost package [but ...]\", \"anything [but ...]\", \"imported by nothing [but ...]\" or \"nothing\"", part)
			}
			c.kind = forbidden
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("the cell is empty (write \"nothing\" if nothing is forbidden)")
	}
	return out, nil
}

// stripComments drops text in parentheses, and what follows a colon up to
// the end of its clause.
func stripComments(s string) string {
	var b strings.Builder
	depth, inTerm, skip := 0, false, false
	for _, r := range s {
		switch {
		case inTerm:
			b.WriteRune(r)
			inTerm = r != '`'
		case r == ';' && depth == 0:
			skip = false
			b.WriteRune(r)
		case skip:
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth > 0:
		case r == ':':
			skip = true
		case r == '`':
			inTerm = true
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func checkTerm(t string) error {
	if t == "" || strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") || strings.Contains(t, " ") {
		return fmt.Errorf("`%s` is not a package path", t)
	}
	return nil
}

// external reports whether a pattern or import path names another module
// (its first element has a dot) rather than a module-relative package.
func external(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return strings.Contains(first, ".")
}

// standard reports whether an import path is in the standard library.
func standard(p string) bool { return !external(p) }

// matchTerm reports whether the import path imp matches the pattern term of a
// module whose path is mod.
func matchTerm(mod, term, imp string) bool {
	full := term
	if !external(term) {
		full = mod + "/" + term
	}
	if base, ok := strings.CutSuffix(full, "/..."); ok {
		return imp == base || strings.HasPrefix(imp, base+"/")
	}
	return imp == full
}

func matchAny(mod string, terms []string, imp string) bool {
	for _, t := range terms {
		if matchTerm(mod, t, imp) {
			return true
		}
	}
	return false
}

func wildcard(elem string) bool {
	return elem != "" && strings.ToUpper(elem) == elem && strings.ToLower(elem) != elem
}

// matchRow reports whether rel (module-relative) is the row's package or
// under it, and the row's instance (the subtree the package may import).
func matchRow(pattern, rel string) (string, bool) {
	p, r := strings.Split(pattern, "/"), strings.Split(rel, "/")
	if len(r) < len(p) {
		return "", false
	}
	for i := range p {
		if p[i] != r[i] && !wildcard(p[i]) {
			return "", false
		}
	}
	return strings.Join(r[:len(p)], "/"), true
}

// ReadTable reads the package table: the first table after the "## Packages"
// heading, with columns "package" and "must not import".
func ReadTable(md []byte) ([]row, error) {
	sc := bufio.NewScanner(bytes.NewReader(md))
	var rows []row
	line, inSection, pkgCol, ruleCol := 0, false, -1, -1
	started := false
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "## ") {
			if started {
				break
			}
			inSection = l == "## Packages"
			continue
		}
		if !inSection {
			continue
		}
		if !strings.HasPrefix(l, "|") {
			if started {
				break
			}
			continue
		}
		cells := splitCells(l)
		if !started {
			started = true
			for i, c := range cells {
				switch strings.ToLower(c) {
				case "package":
					pkgCol = i
				case "must not import":
					ruleCol = i
				}
			}
			if pkgCol < 0 || ruleCol < 0 {
				return nil, fmt.Errorf("%s:%d: the package table needs the columns \"package\" and \"must not import\"", ArchitectureFile, line)
			}
			continue
		}
		if strings.Trim(l, "|-: ") == "" {
			continue // the separator row
		}
		if len(cells) <= max(pkgCol, ruleCol) {
			return nil, fmt.Errorf("%s:%d: a row with %d cells", ArchitectureFile, line, len(cells))
		}
		m := termRE.FindStringSubmatch(cells[pkgCol])
		if m == nil {
			return nil, fmt.Errorf("%s:%d: the package cell %q has no `path`", ArchitectureFile, line, cells[pkgCol])
		}
		r := row{line: line, pattern: m[1], ownModule: strings.Contains(cells[pkgCol], "own module"), cell: cells[ruleCol]}
		var err error
		if r.clauses, err = ParseRules(r.cell); err != nil {
			r.problem = err.Error()
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no package table under \"## Packages\"", ArchitectureFile)
	}
	return rows, nil
}

// splitCells splits a table row on the pipes that are not escaped.
func splitCells(l string) []string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(l, "|")
	l = strings.TrimSuffix(l, "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			b.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

// A pkg is one package as go list sees it, over every platform.
type pkg struct {
	path    string
	doc     string
	imports map[string]bool
}

type listed struct {
	ImportPath string
	Doc        string
	Imports    []string
}

// listPackages lists the packages of the module in dir (./...), with the
// imports of their non-test files on every platform.
func listPackages(goTool, dir string) (map[string]*pkg, error) {
	out := map[string]*pkg{}
	for _, pl := range Platforms {
		cmd := exec.Command(goTool, "list", "-e", "-json=ImportPath,Doc,Imports", "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS="+pl[0], "GOARCH="+pl[1], "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list in %s (%s/%s): %v\n%s", dir, pl[0], pl[1], err, stderr.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var l listed
			if err := dec.Decode(&l); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("go list in %s: %v", dir, err)
			}
			p := out[l.ImportPath]
			if p == nil {
				p = &pkg{path: l.ImportPath, imports: map[string]bool{}}
				out[l.ImportPath] = p
			}
			if p.doc == "" {
				p.doc = l.Doc
			}
			for _, i := range l.Imports {
				p.imports[i] = true
			}
		}
	}
	return out, nil
}

// modulePath reads the module line of dir/go.mod.
func modulePath(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod has no module line", dir)
}

// goTool finds the go command (go test puts the one that runs it first on
// PATH).
func goTool() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("lint: no go command on PATH: %w", err)
	}
	return p, nil
}

// Check reads the package table of the module at root and returns every
// problem found, sorted: imports the table forbids, packages without a row
// or without documentation, rows naming no package, and cells it cannot
// read. The modules of rows marked "(own module)" are checked too.
func Check(root string) ([]string, error) {
	md, err := os.ReadFile(filepath.Join(root, ArchitectureFile))
	if err != nil {
		return nil, err
	}
	rows, err := ReadTable(md)
	if err != nil {
		return nil, err
	}
	mod, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	tool, err := goTool()
	if err != nil {
		return nil, err
	}
	pkgs, err := listPackages(tool, root)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if !r.ownModule {
			continue
		}
		more, err := listPackages(tool, filepath.Join(root, filepath.FromSlash(r.pattern)))
		if err != nil {
			return nil, err
		}
		for k, v := range more {
			pkgs[k] = v
		}
	}
	return check(mod, rows, pkgs), nil
}

// check applies the rows to the packages of module mod.
func check(mod string, rows []row, pkgs map[string]*pkg) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	where := func(r *row) string { return fmt.Sprintf("%s:%d", ArchitectureFile, r.line) }

	for i := range rows {
		if rows[i].problem != "" {
			report("%s: row `%s`: %s", where(&rows[i]), rows[i].pattern, rows[i].problem)
		}
	}

	type owner struct {
		row     *row
		subtree string // the import path of the row's instance
	}
	owners := map[string]owner{}
	used := make([]bool, len(rows))
	paths := make([]string, 0, len(pkgs))
	for p := range pkgs {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		rel, ok := strings.CutPrefix(p, mod+"/")
		if !ok {
			report("%s: not under the module path %s", p, mod)
			continue
		}
		best := -1
		var inst string
		for i := range rows {
			if s, ok := matchRow(rows[i].pattern, rel); ok && (best < 0 || len(strings.Split(rows[i].pattern, "/")) > len(strings.Split(rows[best].pattern, "/"))) {
				best, inst = i, s
			}
		}
		if pkgs[p].doc == "" {
			report("%s: no package documentation (a doc.go saying what it owns and must not import)", rel)
		}
		if best < 0 {
			report("%s: no row in the package table of %s (add one: package, owns, must not import)", rel, ArchitectureFile)
			continue
		}
		used[best] = true
		owners[p] = owner{row: &rows[best], subtree: mod + "/" + inst}
	}
	for i := range rows {
		if !used[i] {
			report("%s: row `%s` names no package", where(&rows[i]), rows[i].pattern)
		}
	}

	inside := func(subtree, imp string) bool { return imp == subtree || strings.HasPrefix(imp, subtree+"/") }
	for _, p := range paths {
		o, ok := owners[p]
		if !ok {
			continue
		}
		rel := strings.TrimPrefix(p, mod+"/")
		imps := make([]string, 0, len(pkgs[p].imports))
		for i := range pkgs[p].imports {
			imps = append(imps, i)
		}
		slices.Sort(imps)
		for _, imp := range imps {
			own := inside(o.subtree, imp)
			ronhost := inside(mod, imp)
			for _, c := range o.row.clauses {
				bad := false
				switch c.kind {
				case forbidden:
					bad = matchAny(mod, c.terms, imp)
				case anyModule:
					bad = ronhost && !own && !matchAny(mod, c.terms, imp)
				case anything:
					bad = !standard(imp) && imp != "C" && !own && !matchAny(mod, c.terms, imp)
				}
				if bad {
					report("%s: imports %s, which %s forbids (row `%s`: %s)", rel, relName(mod, imp), where(o.row), o.row.pattern, o.row.cell)
					break
				}
			}
			// The importers' rules of the imported package.
			if target, ok := owners[imp]; ok && !inside(target.subtree, p) {
				for _, c := range target.row.clauses {
					if c.kind == importedOnlyBy && !matchAny(mod, c.terms, p) {
						report("%s: imports %s, which %s says nothing but its row's importers may (row `%s`: %s)", rel, relName(mod, imp), where(target.row), target.row.pattern, target.row.cell)
						break
					}
				}
			}
		}
	}
	slices.Sort(problems)
	return problems
}

func relName(mod, imp string) string {
	if r, ok := strings.CutPrefix(imp, mod+"/"); ok {
		return r
	}
	return imp
}
