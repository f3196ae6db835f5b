package leaf

import (
	"testing"

	_ "example.com/violations/app" // allowed: tests may import more
)

func TestNothing(t *testing.T) {}
