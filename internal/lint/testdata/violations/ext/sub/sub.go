// Package sub is in another module.
package sub
