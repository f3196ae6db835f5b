package ron

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// The SDK validates every input document in one pass with the scanner below
// (syntax, UTF-8, nesting depth, duplicate keys) and splits objects into
// members without decoding them, so a large value the plugin never reads (a
// 900 KiB string, say) costs one scan, not the several that decoding the
// whole document with encoding/json takes. Only the small pieces a handler
// asks for are decoded, by unmarshal (decode.go: encoding/json's results
// without its per-byte scanner), and a table a handler sets is encoded
// canonically in one walk (encode.go).

// member is one key and its raw value inside an object.
type member struct {
	key   string
	raw   []byte
	canon bool     // raw is already in canonical form (see appendCanonical)
	sub   []member // for a nested key (scanner.nested): the value's members
}

type scanner struct {
	b []byte
	// nestedObject: a nested member (below) whose value is not an object
	// or null is rejected with CodeType before the rest of the document is
	// scanned.
	nestedObject bool
	// nested names the member of the outermost object whose object value
	// is split into members in the same pass (member.sub); "" for none.
	nested string
	// canon is cleared when the value being scanned is not canonical:
	// whitespace between tokens, keys out of order, escapes in strings.
	isCanon bool
}

func (s *scanner) fail(i int, format string, args ...any) *FieldError {
	return &FieldError{Code: CodeSyntax, Message: fmt.Sprintf("malformed JSON at byte %d: %s", i, fmt.Sprintf(format, args...))}
}

func (s *scanner) skipSpace(i int) int {
	j := i
	for i < len(s.b) && isSpace(s.b[i]) {
		i++
	}
	if i != j {
		s.isCanon = false
	}
	return i
}

// value checks the JSON value starting at i (no leading space) inside
// containers nested depth deep and returns the index just past it. It is one
// loop over an explicit stack rather than recursive helpers: in wasm, and
// more so under a host that checks deadlines at every call and loop, a call
// costs far more than a byte comparison, so white space, punctuation,
// numbers and literals are handled inline. Only strings are a call (their
// bytes amortize it).
func (s *scanner) value(i, depth int) (int, *FieldError) {
	const (
		stValue = iota // a value starts at i
		stAfter        // a value ended at i
		stKey          // a member name starts at i
	)
	type frame struct {
		obj   bool
		start int     // offset of '{' or '['
		n     int     // members so far
		prev  []byte  // previous member name (objects)
		seen  *keySet // the names so far, once they came out of order
	}
	b := s.b
	var stackBuf [8]frame // most documents nest less deeply: no allocation
	stack := stackBuf[:0]
	state := stValue
	for {
		switch state {
		case stValue:
			if i >= len(b) {
				return i, s.fail(i, "unexpected end of input")
			}
			c := b[i]
			switch {
			case c == '{' || c == '[':
				if depth+len(stack)+1 > MaxDepth {
					return i, &FieldError{Code: CodeTooLarge, Message: fmt.Sprintf("input nests deeper than %d levels", MaxDepth)}
				}
				stack = append(stack, frame{obj: c == '{', start: i})
				i++
				j := i
				for i < len(b) && isSpace(b[i]) {
					i++
				}
				if i != j {
					s.isCanon = false
				}
				switch {
				case i < len(b) && c == '{' && b[i] == '}', i < len(b) && c == '[' && b[i] == ']':
					i++
					stack = stack[:len(stack)-1]
					state = stAfter
				case c == '{':
					state = stKey
				}
			case c == '"':
				end, _, fe := s.str(i)
				if fe != nil {
					return end, fe
				}
				i = end
				state = stAfter
			case c == '-' || c-'0' <= 9:
				start := i
				if c == '-' {
					i++
				}
				if i < len(b) && b[i] == '0' {
					i++
				} else {
					j := i
					for i < len(b) && b[i]-'0' <= 9 {
						i++
					}
					if i == j {
						return i, s.fail(start, "invalid number")
					}
				}
				if i < len(b) && b[i] == '.' {
					i++
					j := i
					for i < len(b) && b[i]-'0' <= 9 {
						i++
					}
					if i == j {
						return i, s.fail(start, "invalid number")
					}
				}
				if i < len(b) && b[i]|0x20 == 'e' {
					i++
					if i < len(b) && (b[i] == '+' || b[i] == '-') {
						i++
					}
					j := i
					for i < len(b) && b[i]-'0' <= 9 {
						i++
					}
					if i == j {
						return i, s.fail(start, "invalid number")
					}
				}
				state = stAfter
			case c == 't' && i+4 <= len(b) && string(b[i:i+4]) == "true",
				c == 'n' && i+4 <= len(b) && string(b[i:i+4]) == "null":
				i += 4
				state = stAfter
			case c == 'f' && i+5 <= len(b) && string(b[i:i+5]) == "false":
				i += 5
				state = stAfter
			case c == 't' || c == 'f' || c == 'n':
				return i, s.fail(i, "invalid literal")
			default:
				return i, s.fail(i, "unexpected %s", quoteByte(c))
			}

		case stAfter:
			if len(stack) == 0 {
				return i, nil
			}
			j := i
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i != j {
				s.isCanon = false
			}
			if i >= len(b) {
				return i, s.fail(i, "unexpected end of input")
			}
			top := &stack[len(stack)-1]
			switch c := b[i]; {
			case c == ',':
				i++
				j := i
				for i < len(b) && isSpace(b[i]) {
					i++
				}
				if i != j {
					s.isCanon = false
				}
				if top.obj {
					state = stKey
				} else {
					state = stValue
				}
			case c == '}' && top.obj, c == ']' && !top.obj:
				i++
				stack = stack[:len(stack)-1]
			case top.obj:
				return i, s.fail(i, "want ',' or '}' in an object, got %s", quoteByte(c))
			default:
				return i, s.fail(i, "want ',' or ']' in an array, got %s", quoteByte(c))
			}

		case stKey:
			top := &stack[len(stack)-1]
			if i >= len(b) || b[i] != '"' {
				if i >= len(b) {
					return i, s.fail(i, "unexpected end of input in an object")
				}
				return i, s.fail(i, "want a member name, got %s", quoteByte(b[i]))
			}
			kStart := i
			end, escaped, fe := s.str(i)
			if fe != nil {
				return end, fe
			}
			if end-kStart-2 > MaxKeyBytes {
				return end, &FieldError{Code: CodeTooLarge, Message: fmt.Sprintf("a key of %d bytes at byte %d; keys are at most %d bytes", end-kStart-2, kStart, MaxKeyBytes)}
			}
			k := b[kStart+1 : end-1]
			if escaped {
				ks, fe := s.key(kStart, end, true)
				if fe != nil {
					return end, fe
				}
				k = []byte(ks)
			}
			// Names in increasing order (canonical input) need only the
			// previous one to rule out duplicates; otherwise a set.
			dup := false
			switch {
			case top.seen != nil:
				dup = top.seen.add(view(k))
			case top.n > 0 && !keyAfter(view(k), view(top.prev)):
				s.isCanon = false
				top.seen = s.namesBetween(top.start, kStart)
				dup = top.seen.add(view(k))
			}
			if dup {
				return end, &FieldError{Code: CodeDuplicate, Message: fmt.Sprintf("duplicate key %q in the object at byte %d", k, top.start)}
			}
			top.prev = k
			top.n++
			i = end
			j := i
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i >= len(b) || b[i] != ':' {
				return i, s.fail(i, "want ':' after a member name")
			}
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i != j+1 {
				s.isCanon = false
			}
			state = stValue
		}
	}
}

// namesBetween returns the member names of the object starting at start,
// up to the member name at upto, for a duplicate check once names are out
// of order. That part of the object was already checked.
func (s *scanner) namesBetween(start, upto int) *keySet {
	saved := s.isCanon
	defer func() { s.isCanon = saved }()
	seen := newKeySet()
	b := s.b
	i := s.skipSpace(start + 1)
	for i < upto {
		end, escaped, _ := s.str(i)
		k, _ := s.key(i, end, escaped)
		seen.add(k)
		i = s.skipSpace(end) + 1 // ':'
		i, _ = s.value(s.skipSpace(i), 0)
		i = s.skipSpace(i)
		if i < len(b) && b[i] == ',' {
			i = s.skipSpace(i + 1)
		}
	}
	return seen
}

// keyAfter reports k > prev. Names mostly differ in their first byte,
// which is compared inline: in wasm the runtime's string comparison is
// three calls, more than the rest of a short name's scan.
func keyAfter(k, prev string) bool {
	if len(k) > 0 && len(prev) > 0 && k[0] != prev[0] {
		return k[0] > prev[0]
	}
	return k > prev
}

// keySet is a set of an object's member names for the duplicate check once
// they come out of order: a list searched linearly while it is short (in
// wasm, without AES instructions, hashing a name costs more than comparing
// it with a dozen others), a map once it is long, so a hostile object of
// many keys still costs linear time.
type keySet struct {
	list []string
	m    map[string]bool
	buf  [16]string // list's first array, in the same allocation
}

func newKeySet() *keySet {
	ks := &keySet{}
	ks.list = ks.buf[:0]
	return ks
}

// maxKeyList is the longest list a keySet searches linearly.
const maxKeyList = 32

// add adds k and reports whether it was there already.
func (ks *keySet) add(k string) bool {
	if ks.m != nil {
		if ks.m[k] {
			return true
		}
		ks.m[k] = true
		return false
	}
	for _, x := range ks.list {
		if x == k {
			return true
		}
	}
	ks.list = append(ks.list, k)
	if len(ks.list) > maxKeyList {
		ks.m = make(map[string]bool, 2*len(ks.list))
		for _, x := range ks.list {
			ks.m[x] = true
		}
		ks.list = nil
	}
	return false
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// str checks the string starting at i (at its opening quote) and returns the
// index past the closing quote and whether it holds escapes.
func (s *scanner) str(i int) (int, bool, *FieldError) {
	end, escaped, fe := s.strScan(i)
	if escaped {
		s.isCanon = false
	}
	return end, escaped, fe
}

func (s *scanner) strScan(i int) (int, bool, *FieldError) {
	start := i
	i++
	escaped := false
	b := s.b
	for {
		// Fast path: printable ASCII without quote or backslash, eight
		// bytes at a time where possible (one i64 load in wasm).
		for i < len(b) {
			if i+8 <= len(b) {
				if x := binary.LittleEndian.Uint64(b[i:]); plainASCII(x) {
					i += 8
					continue
				}
			}
			c := b[i]
			if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			i++
		}
		if i >= len(s.b) {
			return i, escaped, s.fail(start, "unterminated string")
		}
		switch c := s.b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s.b) {
				return i, escaped, s.fail(i, "unterminated string")
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) {
					return i, escaped, s.fail(i, "truncated \\u escape")
				}
				for _, h := range s.b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, escaped, s.fail(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, escaped, s.fail(i, "invalid escape %s", quoteByte(s.b[i+1]))
			}
		case c < 0x20:
			return i, escaped, s.fail(i, "control character %s in a string", quoteByte(c))
		default:
			r, size := utf8.DecodeRune(s.b[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, escaped, &FieldError{Code: CodeSyntax, Message: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
			}
			if r == '\u2028' || r == '\u2029' {
				escaped = true // re-encoded as \u2028, like encoding/json
			}
			i += size
		}
	}
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// plainASCII reports whether none of x's eight bytes is a control
// character, '"', '\\' or non-ASCII.
func plainASCII(x uint64) bool {
	q := x ^ (lo8 * '"')
	bs := x ^ (lo8 * '\\')
	ctl := (x - lo8*0x20) &^ x // a byte below 0x20 (exact when no byte is >= 0x80)
	zq := (q - lo8) &^ q       // a byte equal to '"'
	zb := (bs - lo8) &^ bs     // a byte equal to '\\'
	return (ctl|zq|zb|x)&hi8 == 0
}

// key decodes the string at [i, end) whose escapes flag is given. Without
// escapes it is a view of the document's bytes (see view).
func (s *scanner) key(i, end int, escaped bool) (string, *FieldError) {
	if !escaped {
		return view(s.b[i+1 : end-1]), nil
	}
	var k string
	if err := json.Unmarshal(s.b[i:end], &k); err != nil {
		return "", s.fail(i, "%v", err)
	}
	return k, nil
}

// object checks the object at i and appends its members to *members, each
// with its canonical flag, splitting the values of s.nested keys into
// members too (only at the outermost level).
func (s *scanner) object(i, depth int, members *[]member) (int, *FieldError) {
	if depth > MaxDepth {
		return i, &FieldError{Code: CodeTooLarge, Message: fmt.Sprintf("input nests deeper than %d levels", MaxDepth)}
	}
	start := i
	i = s.skipSpace(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, nil
	}
	// Keys in increasing order (canonical input) are checked for duplicates
	// against the previous key; once out of order, against a set.
	var prev string
	var seen *keySet // once names come out of order
	first := len(*members)
	for n := 0; ; n++ {
		if i >= len(s.b) || s.b[i] != '"' {
			if i >= len(s.b) {
				return i, s.fail(i, "unexpected end of input in an object")
			}
			return i, s.fail(i, "want a member name, got %s", quoteByte(s.b[i]))
		}
		kStart := i
		end, escaped, fe := s.str(i)
		if fe != nil {
			return end, fe
		}
		if end-kStart-2 > MaxKeyBytes {
			return end, &FieldError{Code: CodeTooLarge, Message: fmt.Sprintf("a key of %d bytes at byte %d; keys are at most %d bytes", end-kStart-2, kStart, MaxKeyBytes)}
		}
		k, fe := s.key(kStart, end, escaped)
		if fe != nil {
			return end, fe
		}
		dup := false
		switch {
		case seen != nil:
			dup = seen.add(k)
		case n == 0 || keyAfter(k, prev):
		default:
			s.isCanon = false
			seen = newKeySet()
			for _, m := range (*members)[first:] {
				seen.add(m.key)
			}
			dup = seen.add(k)
		}
		if dup {
			return end, &FieldError{Code: CodeDuplicate, Message: fmt.Sprintf("duplicate key %q in the object at byte %d", k, start)}
		}
		prev = k
		i = s.skipSpace(end)
		if i >= len(s.b) || s.b[i] != ':' {
			return i, s.fail(i, "want ':' after a member name")
		}
		i = s.skipSpace(i + 1)
		vStart := i
		{
			if s.nestedObject && s.nested != "" && k == s.nested && i < len(s.b) && s.b[i] != '{' && s.b[i] != 'n' {
				return i, &FieldError{Path: k, Code: CodeType, Message: "a " + k + " must be a JSON object"}
			}
			m := member{key: k}
			wasCanon := s.isCanon
			s.isCanon = true
			if s.nested != "" && s.nested == k && i < len(s.b) && s.b[i] == '{' {
				savedNested := s.nested
				s.nested = ""
				sub := make([]member, 0, 8) // a manifest has a few tables: no growth
				i, fe = s.object(i, depth+1, &sub)
				s.nested = savedNested
				m.sub = sub
			} else {
				i, fe = s.value(i, depth)
			}
			if fe != nil {
				return i, fe
			}
			m.raw, m.canon = s.b[vStart:i], s.isCanon
			s.isCanon = wasCanon && s.isCanon
			*members = append(*members, m)
		}
		i = s.skipSpace(i)
		if i >= len(s.b) {
			return i, s.fail(i, "unexpected end of input in an object")
		}
		switch s.b[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, s.fail(i, "want ',' or '}' in an object, got %s", quoteByte(s.b[i]))
		}
	}
}

// parseObject checks that b is exactly one JSON object (with optional
// surrounding space) and returns its members in input order. depth is the
// nesting depth b sits at.
func parseObject(b []byte, depth int) ([]member, *FieldError) {
	return parseObjectNested(b, depth, "", false)
}

// parseObjectNested is parseObject with a nested key (see scanner.nested
// and scanner.nestedObject).
func parseObjectNested(b []byte, depth int, nested string, nestedObject bool) ([]member, *FieldError) {
	s := &scanner{b: b, nested: nested, nestedObject: nestedObject}
	i := s.skipSpace(0)
	if i >= len(b) {
		return nil, &FieldError{Code: CodeSyntax, Message: "empty input"}
	}
	if b[i] != '{' {
		return nil, &FieldError{Code: CodeType, Message: "want a JSON object"}
	}
	members := make([]member, 0, 8) // an input has a few members: no growth
	end, fe := s.object(i, depth+1, &members)
	if fe != nil {
		return nil, fe
	}
	if end = s.skipSpace(end); end != len(b) {
		return nil, s.fail(end, "data after the object")
	}
	return members, nil
}

// appendCanonical appends the JSON value raw re-encoded compactly with
// object keys sorted, numbers and literals as written and strings escaped as
// appendString does. It checks raw as it goes, in one pass.
func appendCanonical(dst, raw []byte) ([]byte, error) {
	s := &scanner{b: raw}
	dst, end, fe := s.canon(dst, s.skipSpace(0), 0)
	if fe != nil {
		return dst, fe
	}
	if s.skipSpace(end) != len(raw) {
		return dst, s.fail(end, "data after a JSON value")
	}
	return dst, nil
}

// maxCanonDepth bounds the recursion of canon on documents the scanner did
// not check (tables a plugin set from Go values).
const maxCanonDepth = 10000

func (s *scanner) canon(dst []byte, i, depth int) ([]byte, int, *FieldError) {
	if depth > maxCanonDepth {
		return dst, i, &FieldError{Code: CodeTooLarge, Message: "value nests too deep"}
	}
	if i >= len(s.b) {
		return dst, i, s.fail(i, "unexpected end of input")
	}
	switch s.b[i] {
	case '{':
		return s.canonObject(dst, i, depth)
	case '[':
		dst = append(dst, '[')
		i = s.skipSpace(i + 1)
		if i < len(s.b) && s.b[i] == ']' {
			return append(dst, ']'), i + 1, nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			var fe *FieldError
			if dst, i, fe = s.canon(dst, i, depth+1); fe != nil {
				return dst, i, fe
			}
			i = s.skipSpace(i)
			if i >= len(s.b) {
				return dst, i, s.fail(i, "unexpected end of input in an array")
			}
			switch s.b[i] {
			case ']':
				return append(dst, ']'), i + 1, nil
			case ',':
				i = s.skipSpace(i + 1)
			default:
				return dst, i, s.fail(i, "want ',' or ']' in an array")
			}
		}
	case '"':
		end, escaped, fe := s.str(i)
		if fe != nil {
			return dst, end, fe
		}
		if !escaped {
			return append(dst, s.b[i:end]...), end, nil
		}
		k, fe := s.key(i, end, true)
		if fe != nil {
			return dst, end, fe
		}
		return appendString(dst, k), end, nil
	default:
		end, fe := s.value(i, 0)
		if fe != nil {
			return dst, end, fe
		}
		return append(dst, s.b[i:end]...), end, nil
	}
}

// canonObject writes the members in input order, then reorders them by key
// in place if they were not sorted already (canonical input never needs it).
func (s *scanner) canonObject(dst []byte, i, depth int) ([]byte, int, *FieldError) {
	type span struct {
		key      string
		from, to int // the member's "key":value in dst
	}
	objStart := len(dst)
	dst = append(dst, '{')
	i = s.skipSpace(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	var spansBuf [8]span
	spans := spansBuf[:0]
	sorted := true
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return dst, i, s.fail(i, "want a member name")
		}
		end, escaped, fe := s.str(i)
		if fe != nil {
			return dst, end, fe
		}
		k, fe := s.key(i, end, escaped)
		if fe != nil {
			return dst, end, fe
		}
		for _, sp := range spans {
			if sp.key == k {
				return dst, end, &FieldError{Code: CodeDuplicate, Message: fmt.Sprintf("duplicate key %q", k)}
			}
		}
		if n := len(spans); n > 0 && spans[n-1].key > k {
			sorted = false
		}
		i = s.skipSpace(end)
		if i >= len(s.b) || s.b[i] != ':' {
			return dst, i, s.fail(i, "want ':' after a member name")
		}
		if len(spans) > 0 {
			dst = append(dst, ',')
		}
		from := len(dst)
		dst = appendString(dst, k)
		dst = append(dst, ':')
		if dst, i, fe = s.canon(dst, s.skipSpace(i+1), depth+1); fe != nil {
			return dst, i, fe
		}
		spans = append(spans, span{key: k, from: from, to: len(dst)})
		i = s.skipSpace(i)
		if i >= len(s.b) {
			return dst, i, s.fail(i, "unexpected end of input in an object")
		}
		if s.b[i] == '}' {
			i++
			break
		}
		if s.b[i] != ',' {
			return dst, i, s.fail(i, "want ',' or '}' in an object")
		}
		i = s.skipSpace(i + 1)
	}
	if !sorted {
		body := append([]byte(nil), dst[objStart+1:]...)
		base := objStart + 1
		slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.key, b.key) })
		dst = dst[:base]
		for n, sp := range spans {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, body[sp.from-base:sp.to-base]...)
		}
	}
	return append(dst, '}'), i, nil
}
