package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// TLS as Redis has it: tls-port opens TLS listeners on the bind addresses beside the plain
// port (either may be 0: port 0 with a TLS port means TLS only). The TLS listener sits inside
// the protocol guard, so the guard, the limits and everything after it see plaintext exactly
// as on the plain port.
//
//	tls-cert-file, tls-key-file   the server's certificate and key (PEM)
//	tls-ca-cert-file/-dir         CAs that sign client certificates
//	tls-auth-clients              yes: a client certificate is required; optional: checked
//	                              when given; no: not asked for
//	tls-protocols                 "TLSv1.2 TLSv1.3" (the default) or any of TLSv1 ... TLSv1.3
//
// The files are read once at start; tls-ciphers and tls-ciphersuites are not implemented (Go
// chooses secure suites itself and does not let TLS 1.3 suites be configured).

// tlsVersions are tls-protocols' names.
var tlsVersions = []struct {
	name    string
	version uint16
}{{"tlsv1", tls.VersionTLS10}, {"tlsv1.1", tls.VersionTLS11}, {"tlsv1.2", tls.VersionTLS12}, {"tlsv1.3", tls.VersionTLS13}}

// buildTLSConfig builds the server's TLS configuration from the tls-* directives; nil when
// tls-port is 0. Its errors say what Redis's "Failed to configure TLS" log lines say.
func buildTLSConfig(c *conf.Config) (*tls.Config, error) {
	if c.TLSPort == 0 {
		return nil, nil
	}
	if c.TLSCertFile == "" || c.TLSKeyFile == "" {
		return nil, errors.New("tls-cert-file and tls-key-file are required when tls-port is set")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("Failed to load certificate: %s: %v", c.TLSCertFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch c.TLSAuthClients {
	case "yes":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	if c.TLSCACertFile != "" || c.TLSCACertDir != "" {
		pool, err := loadCAs(c.TLSCACertFile, c.TLSCACertDir)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	} else if cfg.ClientAuth != tls.NoClientCert {
		return nil, engine.ErrTLSCANeeded
	}
	if strings.TrimSpace(c.TLSProtocols) != "" {
		cfg.MinVersion, cfg.MaxVersion = 0, 0
		for _, p := range strings.Fields(c.TLSProtocols) {
			found := false
			for _, v := range tlsVersions {
				if strings.EqualFold(p, v.name) {
					found = true
					if cfg.MinVersion == 0 || v.version < cfg.MinVersion {
						cfg.MinVersion = v.version
					}
					cfg.MaxVersion = max(cfg.MaxVersion, v.version)
				}
			}
			if !found {
				return nil, fmt.Errorf("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")
			}
		}
	}
	return cfg, nil
}

// loadCAs reads the CA certificates of a PEM file and of the PEM files in a directory.
func loadCAs(file, dir string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	var files []string
	if file != "" {
		files = append(files, file)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("Failed to configure CA certificate(s) file/directory: %v", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	loaded := 0
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("Failed to configure CA certificate(s) file/directory: %v", err)
		}
		if pool.AppendCertsFromPEM(pem) {
			loaded++
		} else if f == file {
			return nil, fmt.Errorf("Failed to configure CA certificate(s) file/directory: no certificate in %s", f)
		}
	}
	if loaded == 0 {
		return nil, errors.New("Failed to configure CA certificate(s) file/directory: no certificates found")
	}
	return pool, nil
}

// tlsListener hands out connections whose TLS handshake is done: handshakes run in their
// own goroutines, so a slow or failing client never holds up the accept loop, and what
// follows (the refusal messages of maxclients and protected mode, redcon's reads) speaks to
// an established session.
type tlsListener struct {
	net.Listener
	cfg   *tls.Config
	log   *slog.Logger
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// tlsHandshakeTimeout bounds a client's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

func newTLSListener(ln net.Listener, cfg *tls.Config, log *slog.Logger) *tlsListener {
	l := &tlsListener{Listener: ln, cfg: cfg, log: log, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *tlsListener) acceptLoop() {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.Close()
				return
			}
			time.Sleep(5 * time.Millisecond) // out of file descriptors: do not spin
			continue
		}
		go l.handshake(raw)
	}
}

func (l *tlsListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.cfg)
	raw.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		l.log.Debug("TLS handshake failed", "addr", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	select {
	case l.conns <- tc:
	case <-l.done:
		raw.Close()
	}
}

// Accept returns the next client whose handshake succeeded.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; handshakes in progress are dropped.
func (l *tlsListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// raw is the socket under the connection: under TLS, the TCP connection (for its file
// descriptor, keepalive, and to close it without waiting on TLS).
func (g *guardConn) raw() net.Conn {
	if tc, ok := g.Conn.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return g.Conn
}

// TLSAddr is the first address the TLS listener listens on (nil without tls-port).
func (s *Server) TLSAddr() net.Addr {
	if len(s.tlsAddrs) == 0 {
		return nil
	}
	return s.tlsAddrs[0]
}
