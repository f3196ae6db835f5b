package meter

import "fmt"

// reader decodes the WebAssembly binary format. Every read is bounds checked
// and fails with ErrMalformed rather than panicking.
type reader struct {
	b   []byte
	off int
	// base is added to offsets in error messages (the position of b in the module).
	base int
}

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, r.base+r.off, fmt.Sprintf(format, args...))
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf("unexpected end")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return nil, r.errorf("unexpected end: %d bytes wanted, %d left", n, len(r.b)-r.off)
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	var v uint64
	var shift uint
	for {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift+7 >= bits && c>>(bits-shift) != 0 {
			return 0, r.errorf("integer too large for u%d", bits)
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
		shift += 7
	}
}

// sleb reads a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits uint) (int64, error) {
	var v int64
	var shift uint
	for {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift+7 >= bits {
			// The last byte: no continuation, and its unused bits must all
			// equal the sign bit.
			if c&0x80 != 0 {
				return 0, r.errorf("integer too long for s%d", bits)
			}
			used := bits - shift // value bits in this byte, the top one the sign
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if c&mask != 0 && c&mask != mask {
				return 0, r.errorf("integer too large for s%d", bits)
			}
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

// name reads a length-prefixed name.
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	return string(b), err
}

// limits skips table or memory limits (flags, min, optional max).
func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 7 {
		return r.errorf("limits flags 0x%02x", flags)
	}
	bits := uint(32)
	if flags&4 != 0 {
		bits = 64 // memory64
	}
	if _, err := r.uleb(bits); err != nil {
		return err
	}
	if flags&1 != 0 {
		if _, err := r.uleb(bits); err != nil {
			return err
		}
	}
	return nil
}

// appendU32 appends v as an unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendS64 appends v as a signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
