package server_test

import (
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// TestDifferential runs every script in testdata/diff against a real redis-server and Strata
// and compares the replies byte for byte.
func TestDifferential(t *testing.T) {
	servertest.RunDiffDir(t, "testdata/diff")
}
