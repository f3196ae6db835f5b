package ron

import "unsafe"

// view returns b as a string without copying it. The SDK decodes from
// documents nobody modifies afterwards: the input of a call (the wasm
// export reads it into a buffer of its own; [Dispatch]'s caller must not
// modify it, rontest passes a copy), tables a plugin set (encoded into a
// fresh buffer) and manifests parsed from a copy. A string decoded from one
// of them may therefore share its bytes, which saves one allocation per
// key and string value: in wasm an allocation costs about as much as
// scanning a hundred bytes.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
