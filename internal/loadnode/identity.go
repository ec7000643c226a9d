package loadnode

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/negotiate"
)

// certCN is the subject python-foolscap puts in every Tub certificate.
const (
	certCN  = "newpb_thingy"
	rsaBits = 2048
)

// Identities makes Tub identities that share one RSA key. Generating a
// 2048-bit key takes tens of milliseconds, so thousands of nodes each with
// their own key would take minutes to start; a certificate takes well
// under one. The tubid is the hash of the certificate, so every identity
// still has its own tubid, and python-foolscap accepts such peers (it
// checks the certificate against the tubid, never the key's uniqueness).
type Identities struct {
	key    *rsa.PrivateKey
	keyPEM []byte
	now    func() time.Time

	mu     sync.Mutex
	serial int64
}

// NewIdentities generates the shared 2048-bit key (python-foolscap's size).
// 1024-bit keys are no option: Debian's OpenSSL (security level 2) makes
// python-foolscap refuse such a peer's certificate in the TLS handshake
// ("tls: bad certificate").
func NewIdentities(now func() time.Time) (*Identities, error) {
	if now == nil {
		now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("loadnode: generating the shared RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("loadnode: encoding the shared RSA key: %w", err)
	}
	return &Identities{key: key, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), now: now}, nil
}

// New returns a fresh identity: a new self-signed certificate (serial
// numbers count up from 1) over the shared key.
func (s *Identities) New() (*negotiate.Identity, error) {
	s.mu.Lock()
	s.serial++
	serial := s.serial
	s.mu.Unlock()
	now := s.now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: certCN},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.key.PublicKey, s.key)
	if err != nil {
		return nil, fmt.Errorf("loadnode: signing certificate %d: %w", serial, err)
	}
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), s.keyPEM...)
	id, err := negotiate.ParseIdentityPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("loadnode: loading certificate %d: %w", serial, err)
	}
	return id, nil
}
