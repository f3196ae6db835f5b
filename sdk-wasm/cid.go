package ron

// CIDPrefix starts every content identifier: the hash is BLAKE3-256.
const CIDPrefix = "b3:"

// ValidCID reports whether s is a content identifier as ronhost writes
// them, "b3:" and the 64 lowercase hex digits of a BLAKE3-256 hash (the
// [Payload] CID, or a CID a plugin's table refers to). It does not trim.
func ValidCID(s string) bool {
	if len(s) != len(CIDPrefix)+64 || s[:len(CIDPrefix)] != CIDPrefix {
		return false
	}
	for i := len(CIDPrefix); i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
