// Package other may import anything.
package other
