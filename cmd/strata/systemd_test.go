package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const unitPath = "../../conf/strata.service"

// requireTool finds a program. When it is missing the test is skipped on a developer's
// machine and fails in CI (CI or STRATA_REQUIRE_SYSTEMD set): `make deps` installs it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("STRATA_REQUIRE_SYSTEMD") != "" {
			t.Fatalf("%s is not installed (apt-get install systemd; `make deps` does it)", name)
		}
		t.Skipf("%s is not installed; `make deps` installs it", name)
	}
	return p
}

// testableUnit writes a copy of conf/strata.service whose ExecStart runs the binary built
// from this tree: systemd-analyze verify insists that the program exists, and /usr/bin/strata
// is not installed where tests run. Everything else is the unit as shipped.
func testableUnit(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "\nExecStart=/usr/bin/strata server --config /etc/strata/strata.yaml\n"
	if !bytes.Contains(unit, []byte(shipped)) {
		t.Fatalf("the unit's ExecStart is not %q", strings.TrimSpace(shipped))
	}
	local := bytes.Replace(unit, []byte("\nExecStart=/usr/bin/strata "), []byte("\nExecStart="+strataBin+" "), 1)
	path := filepath.Join(t.TempDir(), "strata.service")
	if err := os.WriteFile(path, local, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUnitFileVerifies runs systemd-analyze verify on the unit: no error and no warning.
func TestUnitFileVerifies(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	path := testableUnit(t)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The offline security review: keep the exposure where the hardening put it.
	out, err = exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	exposure, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security exposure: %.1f", exposure)
	if exposure > 3.5 {
		t.Fatalf("exposure %.1f, above 3.5: a hardening setting was lost\n%s", exposure, out)
	}
}

// TestUnitFileSettings pins the settings the service depends on.
func TestUnitFileSettings(t *testing.T) {
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			got[k] = append(got[k], v)
		}
	}
	want := map[string]string{
		"Type":                    "notify",
		"ExecStart":               "/usr/bin/strata server --config /etc/strata/strata.yaml",
		"StateDirectory":          "strata",
		"WorkingDirectory":        "/var/lib/strata",
		"User":                    "strata",
		"Restart":                 "on-failure",
		"KillSignal":              "SIGTERM",
		"TimeoutStopSec":          "90s",
		"LimitNOFILE":             "65536",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"CapabilityBoundingSet":   "",
		"RestrictSUIDSGID":        "yes",
		"ProtectKernelLogs":       "yes",
		"RestrictRealtime":        "yes",
		"PrivateMounts":           "yes",
		"StateDirectoryMode":      "0750",
		"RuntimeDirectory":        "strata",
		"UMask":                   "0027",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"TimeoutStartSec":         "5min",
		"RestartSec":              "2s",
		"Group":                   "strata",
		"RuntimeDirectoryMode":    "0750",
		"AmbientCapabilities":     "",
		"ProtectProc":             "invisible",
		"ProcSubset":              "pid",
		"RemoveIPC":               "yes",
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	// Strata does not reload its configuration on a signal: no ExecReload.
	if r, ok := got["ExecReload"]; ok {
		t.Errorf("ExecReload=%q, but Strata has no reload", r)
	}
}
