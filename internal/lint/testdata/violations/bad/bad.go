// Package bad has a row whose rule cannot be read.
package bad
