package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Decoding TOML in one linear pass. go-toml's Unmarshal checks each new key
// against every key seen before it (its SeenTracker scans a flat list), so a
// manifest of n keys cost O(n²): 239 KB of short keys took seconds. Here
// go-toml's parser (unstable.Parser, linear) yields the expressions and the
// tree is built directly, every table a Go map, so each key costs one map
// lookup. The rules on redefinition are TOML's, as go-toml applies them
// (the fuzz target FuzzDecodeTOML compares the two on every input):
//
//   - a [header] may traverse tables, arrays of tables (into their last
//     element) and tables made by dotted keys; it may define a table that
//     only existed as a header's parent, once; nothing else;
//   - a [[header]] appends a table to an array of tables it created;
//   - a dotted key may only traverse tables that dotted keys made;
//   - values (scalars, arrays, inline tables) are never extended.

// Limits on the shape of a manifest.
const (
	// MaxKeys caps the keys of a manifest, in all its tables together
	// (inline tables and arrays of tables included).
	MaxKeys = 32768
)

// How a table came to be.
const (
	tImplicit = iota // the parent of a [header] only
	tExplicit        // defined by its [header] (or the root)
	tDotted          // made by a dotted key
	tInline          // an inline table: a value, never extended
)

// table is a TOML table under construction.
type table struct {
	kind    uint8
	entries map[string]any // scalars, []any, *table, *tableArray
}

// tableArray is an array of tables made by [[header]]s.
type tableArray struct{ elems []*table }

func newTable(kind uint8) *table { return &table{kind: kind, entries: map[string]any{}} }

// decoder holds one decode's state.
type decoder struct {
	p    unstable.Parser
	keys int
	work int // steps taken: one per node and per map lookup (see decodeTOMLWork)
}

// decodeTOML decodes b into the ABI's JSON tree.
func (d *decoder) decodeTOML(b []byte) (map[string]any, error) {
	root := newTable(tExplicit)
	cur := root
	d.p.Reset(b)
	for d.p.NextExpression() {
		e := d.p.Expression()
		d.work++
		var err error
		switch e.Kind {
		case unstable.KeyValue:
			err = d.keyValue(cur, e, 0)
		case unstable.Table:
			cur, err = d.header(root, e, false)
		case unstable.ArrayTable:
			cur, err = d.header(root, e, true)
		}
		if err != nil {
			return nil, d.errorAt(e, err)
		}
	}
	if err := d.p.Error(); err != nil {
		return nil, d.parseError(err)
	}
	out, terr := d.finish(root, 0)
	if terr != nil {
		return nil, terr.err()
	}
	return out.(map[string]any), nil
}

// countKey charges one new key.
func (d *decoder) countKey() error {
	if d.keys++; d.keys > MaxKeys {
		return errTooManyKeys
	}
	return nil
}

var errTooManyKeys = fmt.Errorf("more than %d keys", MaxKeys)

// header handles [a.b.c] (array false) and [[a.b.c]] (array true) and
// returns the table that the key/values after it fill.
func (d *decoder) header(root *table, e *unstable.Node, array bool) (*table, error) {
	t := root
	for it := e.Key(); it.Next(); {
		d.work++
		name, last := it.Node().Data, it.IsLast()
		v, ok := t.entries[string(name)] // no allocation for a lookup
		if !ok {
			if err := d.countKey(); err != nil {
				return nil, err
			}
			switch {
			case last && array:
				nt := newTable(tExplicit)
				t.entries[string(name)] = &tableArray{elems: []*table{nt}}
				return nt, nil
			case last:
				nt := newTable(tExplicit)
				t.entries[string(name)] = nt
				return nt, nil
			}
			nt := newTable(tImplicit)
			t.entries[string(name)] = nt
			t = nt
			continue
		}
		switch x := v.(type) {
		case *table:
			if x.kind == tInline {
				return nil, fmt.Errorf("key %s already exists as a value", name)
			}
			if last {
				switch {
				case array:
					return nil, fmt.Errorf("key %s already exists as a table, but should be an array table", name)
				case x.kind == tDotted:
					return nil, fmt.Errorf("table %s already exists as defined by a dotted key", name)
				case x.kind == tExplicit:
					return nil, fmt.Errorf("table %s already exists", name)
				}
				x.kind = tExplicit
				return x, nil
			}
			t = x
		case *tableArray:
			if last {
				if !array {
					return nil, fmt.Errorf("table %s already exists as an array of tables", name)
				}
				if err := d.countKey(); err != nil {
					return nil, err
				}
				nt := newTable(tExplicit)
				x.elems = append(x.elems, nt)
				return nt, nil
			}
			t = x.elems[len(x.elems)-1]
		default:
			return nil, fmt.Errorf("key %s already exists as a value", name)
		}
	}
	return t, nil
}

// keyValue sets a (possibly dotted) key in t; nest counts the arrays and
// inline tables around t.
func (d *decoder) keyValue(t *table, e *unstable.Node, nest int) error {
	for it := e.Key(); it.Next(); {
		d.work++
		name := it.Node().Data
		v, ok := t.entries[string(name)]
		if it.IsLast() {
			if ok {
				return fmt.Errorf("key %s is already defined", name)
			}
			if err := d.countKey(); err != nil {
				return err
			}
			val, err := d.value(e.Value(), nest)
			if err != nil {
				return err
			}
			t.entries[string(name)] = val
			return nil
		}
		if !ok {
			if err := d.countKey(); err != nil {
				return err
			}
			nt := newTable(tDotted)
			t.entries[string(name)] = nt
			t = nt
			continue
		}
		x, isTable := v.(*table)
		if !isTable || x.kind != tDotted {
			return fmt.Errorf("key %s is already defined", name)
		}
		t = x
	}
	return nil
}

// value converts a value node; nest counts the arrays and inline tables
// around it (bounded so that recursion stays shallow).
func (d *decoder) value(n *unstable.Node, nest int) (any, error) {
	d.work++
	if nest > MaxDepth {
		return nil, errTooDeep
	}
	switch n.Kind {
	case unstable.String:
		return string(n.Data), nil
	case unstable.Bool:
		return n.Data[0] == 't', nil
	case unstable.Integer:
		return parseInteger(n.Data)
	case unstable.Float:
		return parseFloat(n.Data)
	case unstable.LocalDate:
		var v toml.LocalDate
		if err := v.UnmarshalText(n.Data); err != nil {
			return nil, err
		}
		return v.String(), nil
	case unstable.LocalTime:
		var v toml.LocalTime
		if err := v.UnmarshalText(n.Data); err != nil {
			return nil, err
		}
		return v.String(), nil
	case unstable.LocalDateTime:
		var v toml.LocalDateTime
		if err := v.UnmarshalText(n.Data); err != nil {
			return nil, err
		}
		return v.String(), nil
	case unstable.DateTime:
		return parseDateTime(n.Data)
	case unstable.Array:
		out := []any{}
		it := n.Children()
		for it.Next() {
			v, err := d.value(it.Node(), nest+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case unstable.InlineTable:
		t := newTable(tDotted) // dotted keys inside may extend each other
		it := n.Children()
		for it.Next() {
			kv := it.Node()
			if err := d.keyValue(t, kv, nest+1); err != nil {
				return nil, err
			}
		}
		t.kind = tInline
		return t, nil
	}
	return nil, fmt.Errorf("unexpected %s", n.Kind)
}

var errTooDeep = fmt.Errorf("nested deeper than %d levels", MaxDepth)

// finish turns the tables into the JSON tree, checking the depth. The path
// of an error is built as it unwinds, so that success builds no paths.
func (d *decoder) finish(v any, depth int) (any, *treeError) {
	d.work++
	if depth > MaxDepth {
		return nil, &treeError{tooLarge: true, msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
	}
	switch x := v.(type) {
	case *table:
		out := make(map[string]any, len(x.entries))
		for k, e := range x.entries {
			c, err := d.finish(e, depth+1)
			if err != nil {
				err.path = append(err.path, k)
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case *tableArray:
		out := make([]any, len(x.elems))
		for i, e := range x.elems {
			c, err := d.finish(e, depth+1)
			if err != nil {
				err.path = append(err.path, fmt.Sprintf("[%d]", i))
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []any:
		for i, e := range x {
			c, err := d.finish(e, depth+1)
			if err != nil {
				err.path = append(err.path, fmt.Sprintf("[%d]", i))
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &treeError{msg: "NaN and infinities have no JSON form"}
		}
	}
	return v, nil
}

// treeError is a problem finish found; path is innermost first.
type treeError struct {
	path     []string
	msg      string
	tooLarge bool
}

func (e *treeError) err() error {
	var path string
	for i := len(e.path) - 1; i >= 0; i-- {
		if strings.HasPrefix(e.path[i], "[") {
			path += e.path[i]
		} else {
			path = join(path, e.path[i])
		}
	}
	if e.tooLarge {
		return tooLarge(path, e.msg)
	}
	return fieldErr(path, "type", e.msg)
}

// errorAt places err at expression e.
func (d *decoder) errorAt(e *unstable.Node, err error) error {
	if err == errTooManyKeys {
		return tooLarge("", "the manifest has "+err.Error())
	}
	if err == errTooDeep {
		return tooLarge("", "the manifest is "+err.Error())
	}
	if me, ok := err.(*Error); ok {
		return me
	}
	line, col := 1, 1
	if it := e.Key(); it.Next() {
		line, col = d.position(it.Node().Raw)
	}
	return syntaxError("TOML line %d column %d: %v", line, col, err)
}

// parseError reports the parser's error with its position.
func (d *decoder) parseError(err error) error {
	if pe, ok := err.(*unstable.ParserError); ok {
		data := d.p.Data()
		off := cap(data) - cap(pe.Highlight)
		if pe.Highlight != nil && off >= 0 && off <= len(data) {
			line := 1 + strings.Count(string(data[:off]), "\n")
			col := off - strings.LastIndexByte(string(data[:off]), '\n')
			return syntaxError("TOML line %d column %d: %s", line, col, pe.Message)
		}
		return syntaxError("TOML: %s", pe.Message)
	}
	return syntaxError("TOML: %v", err)
}

func (d *decoder) position(r unstable.Range) (int, int) {
	data := d.p.Data()
	off := int(r.Offset)
	if off > len(data) {
		return 1, 1
	}
	line := 1 + strings.Count(string(data[:off]), "\n")
	return line, off - strings.LastIndexByte(string(data[:off]), '\n')
}

// parseInteger parses a TOML integer the parser has checked the shape of:
// decimal with an optional sign, or 0x, 0o, 0b; underscores between digits.
func parseInteger(b []byte) (int64, error) {
	s := string(b)
	if strings.IndexByte(s, '_') >= 0 {
		s = strings.ReplaceAll(s, "_", "")
	}
	base := 10
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x':
			base = 16
		case 'o':
			base = 8
		case 'b':
			base = 2
		}
		if base != 10 {
			s = s[2:]
		}
	}
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s does not fit in 64 bits", b)
	}
	return n, nil
}

// parseFloat parses a TOML float the parser has checked the shape of.
func parseFloat(b []byte) (float64, error) {
	s := string(b)
	switch strings.TrimLeft(s, "+-") {
	case "inf":
		if s[0] == '-' {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("float %s: %v", b, err)
	}
	return f, nil
}

// parseDateTime parses an offset date-time: a local date-time (go-toml's
// rules) then Z or ±hh:mm; as RFC 3339 text.
func parseDateTime(b []byte) (string, error) {
	var zone *time.Location
	local := b
	switch n := len(b); {
	case n > 0 && (b[n-1] == 'Z' || b[n-1] == 'z'):
		local, zone = b[:n-1], time.UTC
	case n > 6 && (b[n-6] == '+' || b[n-6] == '-') && b[n-3] == ':':
		h, err1 := strconv.Atoi(string(b[n-5 : n-3]))
		m, err2 := strconv.Atoi(string(b[n-2:]))
		if err1 != nil || err2 != nil || h > 23 || m > 59 || b[n-5] == '+' || b[n-2] == '+' {
			return "", fmt.Errorf("invalid time zone offset in %s", b)
		}
		secs := h*3600 + m*60
		if b[n-6] == '-' {
			secs = -secs
		}
		zone = time.UTC
		if secs != 0 {
			zone = time.FixedZone("", secs)
		}
		local = b[:n-6]
	default:
		return "", fmt.Errorf("date-time %s has no time zone", b)
	}
	var dt toml.LocalDateTime
	if err := dt.UnmarshalText(local); err != nil {
		return "", err
	}
	t := time.Date(dt.Year, time.Month(dt.Month), dt.Day, dt.Hour, dt.Minute, dt.Second, dt.Nanosecond, zone)
	return t.Format(time.RFC3339Nano), nil
}
