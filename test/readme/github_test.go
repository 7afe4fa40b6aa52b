package readme_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// githubHost is where the README's commands reach GitHub: they name no
// --github-url, so they talk to GitHub.com's API.
const githubHost = "api.github.com:443"

// githubDotCom lets a process started with its env reach the local GitHub
// API as https://api.github.com, so that the README's commands run exactly
// as written without network access: $HTTPS_PROXY names a CONNECT proxy that
// tunnels api.github.com:443 to a TLS server holding a certificate for
// api.github.com from a test authority ($SSL_CERT_FILE, the only roots Go
// trusts then), and that server serves the local API's /api/v3 routes at the
// root, as GitHub.com does. Go never proxies loopback addresses, so the local
// API's own URLs (archive downloads) and the kube-apiserver are reached
// directly.
type githubDotCom struct {
	proxyURL string
	caFile   string

	mu      sync.Mutex
	refused []string // CONNECT targets other than api.github.com
	tunnels int
}

// startGitHubDotCom serves api (the local GitHub's handler) as
// api.github.com until the functions given to cleanup run.
func startGitHubDotCom(t *testing.T, cleanup func(func()), api http.Handler, dir string) *githubDotCom {
	t.Helper()
	caPEM, cert := githubCertificate(t)
	g := &githubDotCom{caFile: filepath.Join(dir, "github-ca.pem")}
	if err := os.WriteFile(g.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	root := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.URL.Path = "/api/v3" + r.URL.Path
		if r.URL.RawPath != "" {
			r.URL.RawPath = "/api/v3" + r.URL.RawPath
		}
		api.ServeHTTP(w, r)
	})}
	go func() { _ = root.Serve(tlsLn) }()
	cleanup(func() { _ = root.Close() })

	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.proxyURL = "http://" + proxyLn.Addr().String()
	proxy := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.tunnel(w, r, tlsLn.Addr().String())
	})}
	go func() { _ = proxy.Serve(proxyLn) }()
	cleanup(func() { _ = proxy.Close() })
	return g
}

// tunnel answers a CONNECT to api.github.com by piping the connection to
// the TLS server at upstream; anything else is refused and remembered.
func (g *githubDotCom) tunnel(w http.ResponseWriter, r *http.Request, upstream string) {
	if r.Method != http.MethodConnect || r.Host != githubHost {
		g.mu.Lock()
		g.refused = append(g.refused, r.Method+" "+r.Host)
		g.mu.Unlock()
		http.Error(w, "only api.github.com is reachable here", http.StatusForbidden)
		return
	}
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	g.mu.Lock()
	g.tunnels++
	g.mu.Unlock()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		up.Close()
		return
	}
	go pipe(up, rw.Reader, conn)
	go pipe(conn, up, up)
}

// pipe copies src to dst, then closes both ends.
func pipe(dst net.Conn, src io.Reader, srcConn net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	srcConn.Close()
}

// env is the environment a process needs to reach api.github.com here.
func (g *githubDotCom) env() []string {
	return []string{"HTTPS_PROXY=" + g.proxyURL, "SSL_CERT_FILE=" + g.caFile}
}

// used reports how many connections reached api.github.com and which other
// hosts were asked for.
func (g *githubDotCom) used() (tunnels int, refused []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tunnels, slices.Clone(g.refused)
}

// githubCertificate returns a test authority (PEM) and a certificate for
// api.github.com it issued.
func githubCertificate(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "promobot README test authority"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "api.github.com"},
		DNSNames:     []string{"api.github.com"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
