package ron

// Payout address limits: see [ValidPayout].
const (
	MinPayoutBytes = 3
	MaxPayoutBytes = 128
)

// ValidPayout reports whether s is a payout address, the one rule every
// built-in TLD uses: [a-z0-9][a-z0-9:._-]{2,127} (3 to 128 bytes, lowercase
// ASCII letters and digits, and ':', '.', '_', '-' after the first byte).
// It does not trim: normalize (e.g. strings.TrimSpace) before checking.
func ValidPayout(s string) bool {
	if len(s) < MinPayoutBytes || len(s) > MaxPayoutBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == ':' || c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
