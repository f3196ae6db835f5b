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

// fastObject walks the object at i, calling f for each member whose key is
// one of names (exactly); other keys are skipped, unless they match a name
// but for case (encoding/json would set that field).
func (d *decoder) fastObject(i int, names []string, f func(k int, at int) (int, bool)) (int, bool) {
	if i >= len(d.data) || d.data[i] != '{' {
		return i, false
	}
	ok := true
	end, err := d.members(i, func(key []byte, at int) (int, error) {
		for k, n := range names {
			if n == string(key) {
				end, good := f(k, at)
				if !good {
					ok = false
					return end, errFallback
				}
				return end, nil
			}
		}
		for _, n := range names {
			if strings.EqualFold(n, string(key)) {
				ok = false
				return at, errFallback
			}
		}
		return d.skip(at)
	})
	return end, ok && err == nil
}

var (
	contextNames = []string{"tld", "payload_size"}
	usageNames   = []string{"requests", "bytes", "servers"}
	serverNames  = []string{"node", "payout", "requests", "bytes"}
)

func (d *decoder) fastContext(i int, c *Context) (int, bool) {
	return d.fastObject(i, contextNames, func(k, at int) (end int, ok bool) {
		if k == 0 {
			c.TLD, end, ok = d.fastString(at)
		} else {
			c.PayloadSize, end, ok = d.fastUint(at)
		}
		return end, ok
	})
}

func (d *decoder) fastUsage(i int, u *Usage) (int, bool) {
	return d.fastObject(i, usageNames, func(k, at int) (end int, ok bool) {
		switch k {
		case 0:
			u.Requests, end, ok = d.fastUint(at)
		case 1:
			u.Bytes, end, ok = d.fastUint(at)
		default:
			u.Servers, end, ok = d.fastServers(at)
		}
		return end, ok
	})
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
		var s Server
		end, ok := d.fastObject(i, serverNames, func(k, at int) (end int, ok bool) {
			switch k {
			case 0:
				s.Node, end, ok = d.fastString(at)
			case 1:
				s.Payout, end, ok = d.fastString(at)
			case 2:
				s.Requests, end, ok = d.fastUint(at)
			default:
				s.Bytes, end, ok = d.fastUint(at)
			}
			return end, ok
		})
		if !ok {
			return nil, end, false
		}
		out = append(out, s)
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
