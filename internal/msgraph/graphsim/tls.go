package graphsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// TLS matters because azidentity (MSAL) refuses an authority that is not
// https: the token flow against graphsim only works over TLS.

// NewTLS starts h on a TLS test server (127.0.0.1, a certificate the
// returned server's Client() trusts). Its URL is the authority host and the
// server URL for BaseURL. The caller closes it.
func NewTLS(h http.Handler) *httptest.Server { return httptest.NewTLSServer(h) }

// ListenTLS serves h over TLS on addr (e.g. "127.0.0.1:0") with a freshly
// generated self-signed certificate for 127.0.0.1, ::1 and localhost, for
// the standalone and dev server. It returns the server URL
// ("https://127.0.0.1:PORT"), the certificate in PEM (add it to a client's
// RootCAs to trust the server) and stop, which shuts the server down.
func ListenTLS(addr string, h http.Handler) (url string, caPEM []byte, stop func(), err error) {
	cert, caPEM, err := selfSigned()
	if err != nil {
		return "", nil, nil, fmt.Errorf("graphsim: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, nil, fmt.Errorf("graphsim: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	// ServeTLS only fails once the listener is closed (by stop), and the
	// certificate is already loaded, so its error carries nothing to report.
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1" // the certificate's name for "all interfaces"
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "https://" + net.JoinHostPort(host, port), caPEM, stop, nil
}

// selfSigned makes an ECDSA certificate that is its own CA, so a client
// trusts the server by adding the certificate itself to its roots.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "graphsim", Organization: []string{"restored graphsim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, err
}
