package server

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain turns transparent huge pages off for the test process before any test runs, as
// cmd/strata does for a server (disable-thp yes, the default). Without it the runtime's
// madvised metadata gave the process huge pages now and then, and LATENCY DOCTOR's
// differential test got the THP advice that redis-server, which disables THP at start, never
// gives.
func TestMain(m *testing.M) {
	unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0)
	os.Exit(m.Run())
}
