package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server"
	"github.com/stratadb/strata/server/servertest"
)

// testPKI is a CA, a server certificate for 127.0.0.1 signed by it, a client certificate
// signed by it, and a client certificate from another CA, all as PEM files.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCert, clientKey     string
	rogueCert, rogueKey       string
	caPool                    *x509.CertPool
	client, rogue             tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	ca, caKey := makeCert(t, nil, nil, "Strata test CA", true, 0)
	rogueCA, rogueKey := makeCert(t, nil, nil, "Rogue CA", true, 0)
	srv, srvKey := makeCert(t, ca, caKey, "localhost", false, x509.ExtKeyUsageServerAuth)
	cli, cliKey := makeCert(t, ca, caKey, "client", false, x509.ExtKeyUsageClientAuth)
	rogue, rKey := makeCert(t, rogueCA, rogueKey, "rogue", false, x509.ExtKeyUsageClientAuth)
	p.caFile = writePEM(t, dir, "ca.crt", "CERTIFICATE", ca.Raw)
	p.certFile = writePEM(t, dir, "server.crt", "CERTIFICATE", srv.Raw)
	p.keyFile = writeKey(t, dir, "server.key", srvKey)
	p.clientCert = writePEM(t, dir, "client.crt", "CERTIFICATE", cli.Raw)
	p.clientKey = writeKey(t, dir, "client.key", cliKey)
	p.rogueCert = writePEM(t, dir, "rogue.crt", "CERTIFICATE", rogue.Raw)
	p.rogueKey = writeKey(t, dir, "rogue.key", rKey)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	var err error
	if p.client, err = tls.LoadX509KeyPair(p.clientCert, p.clientKey); err != nil {
		t.Fatal(err)
	}
	if p.rogue, err = tls.LoadX509KeyPair(p.rogueCert, p.rogueKey); err != nil {
		t.Fatal(err)
	}
	return p
}

func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool,
	usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKey(t *testing.T, dir, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "EC PRIVATE KEY", der)
}

// tlsServer is a Strata listening on a plain port and a TLS port.
type tlsServer struct {
	*server.Server
	plain, tls string
}

// startTLS starts Strata with the PKI's certificates on two free ports (plain 0: TLS only);
// a port taken meanwhile by someone else is retried with new ones.
func startTLS(t *testing.T, p *testPKI, plainToo bool, mutate func(*conf.Config)) *tlsServer {
	t.Helper()
	for attempt := 0; ; attempt++ {
		tab := conf.NewTable()
		cfg := tab.Default()
		cfg.Bind = []string{"127.0.0.1"}
		cfg.Dir = t.TempDir()
		cfg.Port = 0
		if plainToo {
			cfg.Port = freePort(t)
		}
		cfg.TLSPort = freePort(t)
		cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCACertFile = p.certFile, p.keyFile, p.caFile
		if mutate != nil {
			mutate(cfg)
		}
		srv, err := server.New(server.Options{Config: cfg, Table: tab, Logger: servertest.TestLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			srv.Shutdown(context.Background())
			if strings.Contains(err.Error(), "address already in use") && attempt < 5 {
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		ts := &tlsServer{Server: srv, tls: srv.TLSAddr().String()}
		if plainToo {
			ts.plain = srv.Addr().String()
		}
		return ts
	}
}

// tlsClient is a go-redis client over TLS, with a client certificate when cert is set.
func tlsClient(p *testPKI, addr string, cert *tls.Certificate) *redis.Client {
	cfg := &tls.Config{RootCAs: p.caPool, ServerName: "127.0.0.1"}
	if cert != nil {
		// Present the certificate whatever CAs the server names (Go's client would otherwise
		// send none rather than one the server does not trust).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, MaxRetries: -1, DialTimeout: 5 * time.Second})
}

// TestTLSClientCertificates runs the plain port and the TLS port side by side, under each
// tls-auth-clients mode, with a certificate from the CA, one from another CA, and none.
func TestTLSClientCertificates(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	for _, tc := range []struct {
		mode                string
		noCert, good, rogue bool // whether each kind of client gets in
	}{
		{"yes", false, true, false},
		{"optional", true, true, false},
		{"no", true, true, true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := startTLS(t, p, true, func(c *conf.Config) { c.TLSAuthClients = tc.mode })
			plain := redis.NewClient(&redis.Options{Addr: s.plain})
			defer plain.Close()
			if err := plain.Set(ctx, "k", "from the plain port", 0).Err(); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				cert *tls.Certificate
				in   bool
			}{{"no certificate", nil, tc.noCert}, {"CA's certificate", &p.client, tc.good}, {"other CA's certificate", &p.rogue, tc.rogue}} {
				cl := tlsClient(p, s.tls, c.cert)
				got, err := cl.Get(ctx, "k").Result()
				cl.Close()
				if c.in && (err != nil || got != "from the plain port") {
					t.Errorf("%s: %q %v", c.name, got, err)
				}
				if !c.in && err == nil {
					t.Errorf("%s: got in", c.name)
				}
			}
		})
	}
}

// TestTLSRedisCli talks to the TLS port with redis-cli --tls, as operators do.
func TestTLSRedisCli(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		servertest.RedisServerPath(t) // skips, or fails under CI
		t.Skip("redis-cli is not installed")
	}
	p := newTestPKI(t)
	s := startTLS(t, p, false, nil)
	host, port, _ := net.SplitHostPort(s.tls)
	cli := func(extra ...string) (string, error) {
		args := append([]string{"--tls", "--cacert", p.caFile, "-h", host, "-p", port}, extra...)
		out, err := exec.Command("redis-cli", args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := cli("--cert", p.clientCert, "--key", p.clientKey, "SET", "k", "v"); err != nil || out != "OK" {
		t.Fatalf("redis-cli --tls SET: %q %v", out, err)
	}
	if out, err := cli("--cert", p.clientCert, "--key", p.clientKey, "GET", "k"); err != nil || out != "v" {
		t.Fatalf("redis-cli --tls GET: %q %v", out, err)
	}
	if out, _ := cli("PING"); out == "PONG" {
		t.Fatal("redis-cli without a client certificate got in under tls-auth-clients yes")
	}
	if s.Addr().String() != s.tls {
		t.Fatalf("with port 0 and a TLS port, the server listens only with TLS: %v", s.Addr())
	}
}

// TestTLSGuardAndClients: the protocol guard sees the plaintext under TLS (its errors reach
// the client), and connections over TLS are clients like any other (CLIENT LIST, CLIENT KILL,
// AUTH as an ACL user).
func TestTLSGuardAndClients(t *testing.T) {
	p := newTestPKI(t)
	s := startTLS(t, p, true, func(c *conf.Config) { c.TLSAuthClients = "optional" })
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", s.tls, &tls.Config{RootCAs: p.caPool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	rd := servertest.NewReader(c)
	c.Write([]byte("*1\r\n$abc\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := rd.ReadReply(); err != nil || string(got) != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("guard over TLS: %q %v", got, err)
	}

	admin := servertest.Dial(t, "tcp", s.plain)
	admin.Do("ACL", "SETUSER", "tlsuser", "on", ">pw", "+@all", "~*")
	victim := dial()
	vr := servertest.NewReader(victim)
	victim.Write(servertest.EncodeCommand("AUTH", "tlsuser", "pw"))
	victim.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := vr.ReadReply(); err != nil || string(got) != "+OK\r\n" {
		t.Fatalf("AUTH over TLS: %q %v", got, err)
	}
	var line map[string]string
	for _, l := range clientList(t, admin) {
		if l["user"] == "tlsuser" {
			line = l
		}
	}
	if line == nil || line["fd"] == "-1" || line["laddr"] != s.tls {
		t.Fatalf("CLIENT LIST line of the TLS client: %v", line)
	}
	if got := admin.Do("CLIENT", "KILL", "ID", line["id"]); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL of a TLS client: %q", got)
	}
	victim.Write(servertest.EncodeCommand("PING"))
	if _, err := vr.ReadReply(); err == nil {
		t.Fatal("the killed TLS client is still connected")
	}

	// A plaintext client on the TLS port fails its handshake and leaves the server alone.
	raw := servertest.Dial(t, "tcp", s.tls)
	raw.Send("PING")
	if _, err := raw.ReadErr(10 * time.Second); err == nil {
		t.Fatal("plaintext on the TLS port was answered")
	}
	if got := admin.Do("PING"); got != "+PONG\r\n" {
		t.Fatal(got)
	}
}

// TestTLSProtocols: tls-protocols bounds the TLS versions.
func TestTLSProtocols(t *testing.T) {
	p := newTestPKI(t)
	s := startTLS(t, p, false, func(c *conf.Config) {
		c.TLSAuthClients = "no"
		c.TLSProtocols = "TLSv1.3"
	})
	for _, tc := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS12, false}, {tls.VersionTLS13, true}} {
		c, err := tls.Dial("tcp", s.tls, &tls.Config{RootCAs: p.caPool, ServerName: "127.0.0.1", MaxVersion: tc.max})
		if err == nil {
			c.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("client up to %x: %v", tc.max, err)
		}
	}
}

// TestTLSConfigErrors: a TLS setup Redis refuses keeps the server from starting.
func TestTLSConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		mutate func(*conf.Config)
		want   string
	}{
		{"no CA with client auth", func(c *conf.Config) { c.TLSCACertFile = "" },
			"Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!"},
		{"missing certificate", func(c *conf.Config) { c.TLSCertFile = filepath.Join(p.dir, "none.crt") }, "Failed to load certificate"},
		{"no certificate", func(c *conf.Config) { c.TLSCertFile = "" }, "tls-cert-file and tls-key-file are required"},
		{"bad protocols", func(c *conf.Config) { c.TLSProtocols = "TLSv1.2 SSLv3" }, "Invalid tls-protocols specified"},
		{"CA file without certificates", func(c *conf.Config) { c.TLSCACertFile = p.keyFile }, "Failed to configure CA certificate(s)"},
	} {
		tab := conf.NewTable()
		cfg := tab.Default()
		cfg.Dir = t.TempDir()
		cfg.TLSPort = 1
		cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCACertFile = p.certFile, p.keyFile, p.caFile
		tc.mutate(cfg)
		srv, err := server.New(server.Options{Config: cfg, Table: tab, Logger: servertest.TestLogger(t)})
		if err == nil {
			srv.Shutdown(context.Background())
			t.Errorf("%s: the server started", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// No CA is fine when clients are not asked for certificates.
	s := startTLS(t, p, false, func(c *conf.Config) { c.TLSAuthClients = "no"; c.TLSCACertFile = "" })
	cl := tlsClient(p, s.tls, nil)
	defer cl.Close()
	if err := cl.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}
