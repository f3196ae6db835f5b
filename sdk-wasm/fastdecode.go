package ron

import "strings"

// decodeFast decodes the input members the SDK itself defines (a split's
// epoch, amount and usage, a validate's context, a resolve's path and
// payload size) without reflection, in the form hosts send them: exact key
// names, unsigned integers that fit, strings, arrays of server objects.
// Anything else (a null, a key differing only in case, a negative or
// fractional number, a value of the wrong type) returns false before
// target is touched or after resetting it, and the caller decodes with
// unmarshal, which gives encoding/json's result and error. In wasm a
// reflective decode of a split's eight servers cost more than the split.
func decodeFast(raw []byte, target any) bool {
	d := decoder{data: raw}
	i := d.space(0)
	var end int
	var ok bool
	switch t := target.(type) {
	case *string:
		var s string
		if s, end, ok = d.fastString(i); ok {
			*t = s
		}
	case *uint64:
		var n uint64
		if n, end, ok = d.fastUint(i); ok {
			*t = n
		}
	case *Usage:
		var u Usage
		if end, ok = d.fastUsage(i, &u); ok {
			*t = u
		}
	case *Context:
		var c Context
		if end, ok = d.fastContext(i, &c); ok {
			*t = c
		}
	default:
		return false
	}
	return ok && d.space(end) == len(raw)
}

func (d *decoder) fastString(i int) (string, int, bool) {
	if i >= len(d.data) || d.data[i] != '"' {
		return "", i, false
	}
	b, end, err := d.strBytes(i)
	return view(b), end, err == nil
}

// fastUint parses an unsigned integer that fits in 64 bits.
func (d *decoder) fastUint(i int) (uint64, int, bool) {
	start := i
	var n uint64
	for i < len(d.data) && d.data[i]-'0' <= 9 {
		c := uint64(d.data[i] - '0')
		if n > (1<<64-1-c)/10 {
			return 0, i, false
		}
		n = n*10 + c
		i++
	}
	if i == start || i < len(d.data) && (d.data[i] == '.' || d.data[i]|0x20 == 'e') {
		return 0, i, false
	}
	return n, i, true
}

// fastMembers walks the object at i, calling member for each member with
// its key (valid during the call) and the index of its value; member
// returns the index past the value, or false to give up. It is an iterator
// written out (no closure per object) so that the fast paths below match
// names with a switch: in wasm a call costs more than the match.
//
// fastKey reports whether a member whose key is none of the fast path's
// names may be skipped: not when it matches one of them but for case
// (encoding/json would set that field).
func fastKey(key []byte, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(n, string(key)) {
			return false
		}
	}
	return true
}

// fastOpen starts the object at i: the index of its first member's key, or
// done and the index past "{}".
func (d *decoder) fastOpen(i int) (next int, done, ok bool) {
	if i >= len(d.data) || d.data[i] != '{' {
		return i, false, false
	}
	i = d.space(i + 1)
	if i < len(d.data) && d.data[i] == '}' {
		return i + 1, true, true
	}
	return i, false, true
}

// fastKeyAt reads the member name at i and its colon: the key and the
// index of the value.
func (d *decoder) fastKeyAt(i int) ([]byte, int, bool) {
	if i >= len(d.data) || d.data[i] != '"' {
		return nil, i, false
	}
	key, end, err := d.strBytes(i)
	if err != nil {
		return nil, end, false
	}
	i = d.space(end)
	if i >= len(d.data) || d.data[i] != ':' {
		return nil, i, false
	}
	return key, d.space(i + 1), true
}

// fastNext moves past a member's value ending at i: the next key's index,
// or done and the index past '}'.
func (d *decoder) fastNext(i int) (next int, done, ok bool) {
	i = d.space(i)
	if i >= len(d.data) {
		return i, false, false
	}
	switch d.data[i] {
	case ',':
		return d.space(i + 1), false, true
	case '}':
		return i + 1, true, true
	}
	return i, false, false
}

// fastOther skips the value at at of a member the fast path has no name
// for.
func (d *decoder) fastOther(key []byte, at int, names []string) (int, bool) {
	if !fastKey(key, names) {
		return at, false
	}
	end, err := d.skip(at)
	return end, err == nil
}

var (
	contextNames = []string{"tld", "payload_size"}
	usageNames   = []string{"requests", "bytes", "servers"}
	serverNames  = []string{"node", "payout", "requests", "bytes"}
)

func (d *decoder) fastContext(i int, c *Context) (int, bool) {
	i, done, ok := d.fastOpen(i)
	for ok && !done {
		var key []byte
		if key, i, ok = d.fastKeyAt(i); !ok {
			break
		}
		switch string(key) {
		case "tld":
			c.TLD, i, ok = d.fastString(i)
		case "payload_size":
			c.PayloadSize, i, ok = d.fastUint(i)
		default:
			i, ok = d.fastOther(key, i, contextNames)
		}
		if ok {
			i, done, ok = d.fastNext(i)
		}
	}
	return i, ok
}

func (d *decoder) fastUsage(i int, u *Usage) (int, bool) {
	i, done, ok := d.fastOpen(i)
	for ok && !done {
		var key []byte
		if key, i, ok = d.fastKeyAt(i); !ok {
			break
		}
		switch string(key) {
		case "requests":
			u.Requests, i, ok = d.fastUint(i)
		case "bytes":
			u.Bytes, i, ok = d.fastUint(i)
		case "servers":
			u.Servers, i, ok = d.fastServers(i)
		default:
			i, ok = d.fastOther(key, i, usageNames)
		}
		if ok {
			i, done, ok = d.fastNext(i)
		}
	}
	return i, ok
}

func (d *decoder) fastServer(i int, s *Server) (int, bool) {
	i, done, ok := d.fastOpen(i)
	for ok && !done {
		var key []byte
		if key, i, ok = d.fastKeyAt(i); !ok {
			break
		}
		switch string(key) {
		case "node":
			s.Node, i, ok = d.fastString(i)
		case "payout":
			s.Payout, i, ok = d.fastString(i)
		case "requests":
			s.Requests, i, ok = d.fastUint(i)
		case "bytes":
			s.Bytes, i, ok = d.fastUint(i)
		default:
			i, ok = d.fastOther(key, i, serverNames)
		}
		if ok {
			i, done, ok = d.fastNext(i)
		}
	}
	return i, ok
}

func (d *decoder) fastServers(i int) ([]Server, int, bool) {
	if i >= len(d.data) || d.data[i] != '[' {
		return nil, i, false
	}
	out := make([]Server, 0, 8)
	i = d.space(i + 1)
	if i < len(d.data) && d.data[i] == ']' {
		return out, i + 1, true
	}
	for {
		out = append(out, Server{})
		end, ok := d.fastServer(i, &out[len(out)-1])
		if !ok {
			return nil, end, false
		}
		i = d.space(end)
		if i >= len(d.data) {
			return nil, i, false
		}
		switch d.data[i] {
		case ',':
			i = d.space(i + 1)
		case ']':
			return out, i + 1, true
		default:
			return nil, i, false
		}
	}
}
