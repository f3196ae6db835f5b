// Package secretfile keeps a small secret (a key or a seed) in a file private
// to its owner: LoadOrCreate reads it, or creates it atomically the first
// time. The token root key, the name and node keys, the mailbox identity and
// the onion service key all live in such files under DATA/keys.
//
// It imports nothing of ronhost's; every package that keeps a secret may
// import it.
package secretfile
