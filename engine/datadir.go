package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// What a data directory holds besides Pebble's files (and the dumps a server writes there):
//
//	strata-server.addr   how to reach the server that has the directory open: written once
//	                     it listens, removed when it shuts down (a crash leaves it behind,
//	                     which is harmless: it is read only while the directory is locked)
//	checkpoints/NAME     consistent copies made by CHECKPOINT NAME for the tools (`strata
//	                     export --dir`, `strata inspect --dir` on a directory in use), which
//	                     remove them when done
//
// Pebble ignores both: it only touches files whose names it gives itself.

// ServerAddrFile is the name of the file, in the data directory, where a running server says
// where it listens.
const ServerAddrFile = "strata-server.addr"

// CheckpointsDir is the subdirectory of the data directory that holds checkpoints.
const CheckpointsDir = "checkpoints"

// ServerAddr is one address a running server listens on, as a client on the same machine
// dials it (a wildcard bind address is written as the loopback address).
type ServerAddr struct {
	TLS  bool
	Addr string // host:port
}

// WriteServerAddrs records where the server of dir listens, replacing what was there.
func WriteServerAddrs(dir string, addrs []ServerAddr) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# strata server pid %d; removed when it shuts down\n", os.Getpid())
	for _, a := range addrs {
		network := "tcp"
		if a.TLS {
			network = "tls"
		}
		fmt.Fprintf(&b, "%s %s\n", network, a.Addr)
	}
	path := filepath.Join(dir, ServerAddrFile)
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// RemoveServerAddrs removes the file WriteServerAddrs wrote.
func RemoveServerAddrs(dir string) error {
	err := os.Remove(filepath.Join(dir, ServerAddrFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ReadServerAddrs reads where the server of dir said it listens (os.ErrNotExist when it said
// nothing: no server, or one that predates the file).
func ReadServerAddrs(dir string) ([]ServerAddr, error) {
	f, err := os.Open(filepath.Join(dir, ServerAddrFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ServerAddr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		network, addr, ok := strings.Cut(line, " ")
		if !ok || (network != "tcp" && network != "tls") {
			return nil, fmt.Errorf("%s: bad line %q", f.Name(), line)
		}
		out = append(out, ServerAddr{TLS: network == "tls", Addr: strings.TrimSpace(addr)})
	}
	return out, sc.Err()
}

// RemoveStaleCheckpoints removes the checkpoints of dir that nobody has open: the ones a tool
// that was killed left behind. A checkpoint a tool is reading is locked (OpenReadOnly) and
// stays. The server calls it when it starts.
func RemoveStaleCheckpoints(dir string) error {
	root := filepath.Join(dir, CheckpointsDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(root, e.Name())
		if e.IsDir() {
			lock, err := pebble.LockDirectory(path, vfs.Default)
			if err != nil {
				continue // in use
			}
			lock.Close()
		}
		errs = append(errs, os.RemoveAll(path))
	}
	return errors.Join(errs...)
}
