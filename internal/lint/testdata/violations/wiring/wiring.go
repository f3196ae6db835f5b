// Package wiring is imported by app only.
package wiring

import _ "example.com/violations/leaf"
