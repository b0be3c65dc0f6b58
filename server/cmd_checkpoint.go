package server

import (
	"net"
	"path/filepath"

	"github.com/stratadb/strata/engine"
)

// CHECKPOINT name, Strata's own command (Redis has none like it), and the address file that
// lets the tools find the server of a data directory.
//
// `strata export --dir D` and `strata inspect --dir D` read a data directory without a
// server. While a server has D open they cannot (Pebble's lock, and its compactions would
// delete files under a reader), and only the process that has D open can make a Pebble
// checkpoint, a consistent copy at one instant that costs hard links. So the server says
// where it listens in D/strata-server.addr (engine/datadir.go) once it listens, and removes
// the file when it shuts down; a tool that finds D locked reads it, connects (AUTH when
// given a password), sends CHECKPOINT name, reads the copy the server made in
// D/checkpoints/name, and removes it. Writes go on while it does.
//
// The copy always goes under the server's own data directory (so that it is on the same
// filesystem, made of hard links, and a client cannot make the server write elsewhere); the
// reply is its absolute path, which the tool checks is the directory it expected (a stale
// address file could name another server). CHECKPOINT is an admin command (@admin
// @dangerous @slow): with requirepass or ACL users, the tool needs a password.
func registerCheckpointCommands(t *Table) {
	t.add(&Command{Name: "checkpoint", Arity: 2, Flags: "admin noscript", Lock: LockNone,
		Handler: cmdCheckpoint,
		Group:   "server", Summary: "Make a consistent copy of the data directory (hard links) in dir/checkpoints/name for the offline tools",
		Complexity: "O(N) where N is the number of files of the data directory"})
}

// maxCheckpointName bounds a checkpoint's name.
const maxCheckpointName = 100

// validCheckpointName admits one plain path element: letters, digits, '-', '_' and '.', not
// starting with '.'.
func validCheckpointName(name []byte) bool {
	if len(name) == 0 || len(name) > maxCheckpointName || name[0] == '.' {
		return false
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func cmdCheckpoint(x *Ctx) {
	if !validCheckpointName(x.Args[1]) {
		x.Error(engine.ErrCheckpointName)
		return
	}
	dest, err := filepath.Abs(filepath.Join(x.s.eng.Dir(), engine.CheckpointsDir, x.Arg(1)))
	if err == nil {
		err = x.s.eng.Checkpoint(dest)
	}
	if err != nil {
		x.s.log.Warn("CHECKPOINT failed", "name", x.Arg(1), "err", err)
		x.Error(engine.ErrCheckpointFailed(err))
		return
	}
	x.s.log.Info("checkpoint made", "path", dest)
	x.BulkString(dest)
}

// writeAddrFile records where the server listens in its data directory, each address as a
// client on this machine dials it.
func (s *Server) writeAddrFile() {
	var addrs []engine.ServerAddr
	add := func(list []net.Addr, tls bool) {
		for _, a := range list {
			tcp, ok := a.(*net.TCPAddr)
			if !ok {
				continue
			}
			ip := tcp.IP
			switch {
			case ip.IsUnspecified() && ip.To4() != nil:
				ip = net.IPv4(127, 0, 0, 1)
			case ip.IsUnspecified():
				ip = net.IPv6loopback
			}
			addrs = append(addrs, engine.ServerAddr{TLS: tls, Addr: (&net.TCPAddr{IP: ip, Port: tcp.Port}).String()})
		}
	}
	add(s.addrs, false)
	add(s.tlsAddrs, true)
	if err := engine.WriteServerAddrs(s.eng.Dir(), addrs); err != nil {
		s.log.Warn("cannot write the address file; strata export --dir will not find this server",
			"dir", s.eng.Dir(), "err", err)
	}
}

// removeAddrFile removes the address file when the server stops.
func (s *Server) removeAddrFile() {
	if err := engine.RemoveServerAddrs(s.eng.Dir()); err != nil {
		s.log.Warn("cannot remove the address file", "dir", s.eng.Dir(), "err", err)
	}
}
