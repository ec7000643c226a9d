package negotiate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrNoPeerCertificate means the peer finished TLS without a certificate.
var ErrNoPeerCertificate = errors.New("peer presented no TLS certificate")

// ErrWrongTubID means the peer's certificate does not hash to the tubid we
// expected (the FURL's, or the one it claimed).
var ErrWrongTubID = errors.New("peer certificate does not match the expected tubid")

// ClientTLSConfig returns the configuration for the TCP client (who is the
// TLS client): it presents our certificate, sends no SNI, skips chain
// validation (foolscap certificates are self-signed and often expired) and
// pins the SHA-1 of the server's leaf certificate to wantTubID.
func (id *Identity) ClientTLSConfig(wantTubID string) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{id.TLSCertificate()},
		InsecureSkipVerify: true, // replaced by the tubid pin below
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return checkPeer(cs, wantTubID)
		},
	}
}

// ServerTLSConfig returns the configuration for the TCP server: it presents
// our certificate and asks for the client's without validating a chain. The
// tubid the client claims is checked against its certificate during
// negotiation (PeerTubID), as foolscap does after reading its hello.
func (id *Identity) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.TLSCertificate()},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil // judged after the hello, with foolscap's error text
			}
			return checkSelfSigned(cs.PeerCertificates[0])
		},
	}
}

// PeerTubID returns the tubid of the peer's leaf certificate.
func PeerTubID(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", ErrNoPeerCertificate
	}
	return TubIDFromDER(cs.PeerCertificates[0].Raw), nil
}

func checkPeer(cs tls.ConnectionState, want string) error {
	got, err := PeerTubID(cs)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: expected %s, peer's certificate hashes to %s", ErrWrongTubID, want, got)
	}
	return checkSelfSigned(cs.PeerCertificates[0])
}

// checkSelfSigned mirrors foolscap's alwaysValidate, which lets OpenSSL
// check the self-signature and forgives only expiry and self-signing. A
// signature Go considers insecure (legacy MD5 certificates) is not held
// against the peer: the TLS handshake already proved it holds the key, and
// the tubid pin is what authenticates it.
func checkSelfSigned(c *x509.Certificate) error {
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	if err != nil && !errors.As(err, &insecure) {
		return fmt.Errorf("peer certificate is not validly self-signed: %w", err)
	}
	return nil
}
