// Package codec is under echo's row: its own subtree.
package codec

import _ "example.com/violations/leaf"
