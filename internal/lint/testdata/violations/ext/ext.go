// Package ext is another module.
package ext
