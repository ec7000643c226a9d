package negotiate

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Certificate parameters of foolscap's crypto.createCertificate (Twisted's
// KeyPair.signCertificateRequest): RSA-2048, e=65537, X.509 v1 without
// extensions, serial 1, subject = issuer = CN=newpb_thingy (UTF8String),
// sha256WithRSAEncryption, valid from now for 365 days.
const (
	rsaBits      = 2048
	certCN       = "newpb_thingy"
	certValidity = 365 * 24 * time.Hour
	// minRSABits is the smallest key we load: pre-2015 foolscap made 1024-bit keys.
	minRSABits = 1024
	// maxPEMSize bounds an identity file; a real one is about 2.7 KB.
	maxPEMSize = 64 << 10
)

var (
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidCommonName    = asn1.ObjectIdentifier{2, 5, 4, 3}
)

var tubIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// TubIDFromDER returns the tubid of a certificate: lowercase unpadded base32
// of the SHA-1 of its DER encoding (foolscap crypto.digest32).
func TubIDFromDER(der []byte) string {
	sum := sha1.Sum(der)
	return tubIDEncoding.EncodeToString(sum[:])
}

// Identity is a Tub's key and self-signed certificate; its hash is the tubid.
type Identity struct {
	key   crypto.Signer // *rsa.PrivateKey, or *ecdsa.PrivateKey for NewEphemeralIdentity
	cert  *x509.Certificate
	tubID string
}

// NewIdentity makes a fresh identity exactly as python-foolscap does, with
// validity starting at now. rand is passed to crypto/rsa, which since Go 1.26
// ignores it and always uses a secure source (tests wanting determinism use
// testing/cryptotest.SetGlobalRandom).
func NewIdentity(rand io.Reader, now time.Time) (*Identity, error) {
	key, err := rsa.GenerateKey(rand, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("generating the Tub's RSA key: %w", err)
	}
	der, err := selfSignV1(rand, key, now)
	if err != nil {
		return nil, err
	}
	return newIdentity(key, der)
}

// NewEphemeralIdentity makes a throwaway identity for a Tub that lives
// for one short task (a probe, a load-test node): an ECDSA P-256 key with a
// self-signed certificate carrying no extensions, CN=newpb_thingy. Making
// it costs microseconds where an RSA-2048 key costs tens of milliseconds;
// python-foolscap 21.7 (OpenSSL 3) accepts such certificates in both TLS
// roles. Persistent identities (gatherer.pem) stay RSA, like foolscap's.
func NewEphemeralIdentity(rand io.Reader, now time.Time) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("generating an ephemeral key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: certCN},
		NotBefore:    now,
		NotAfter:     now.Add(certValidity),
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing the ephemeral certificate: %w", err)
	}
	return newIdentity(key, der)
}

// tbsCertificateV1 is an X.509 TBSCertificate with the version field absent
// (v1) and no extensions, as OpenSSL writes for a fresh X509 object.
type tbsCertificateV1 struct {
	SerialNumber       *big.Int
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           validity
	Subject            asn1.RawValue
	PublicKey          asn1.RawValue
}

type validity struct {
	NotBefore, NotAfter time.Time
}

type certificate struct {
	TBSCertificate     asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	SignatureValue     asn1.BitString
}

func selfSignV1(rand io.Reader, key *rsa.PrivateKey, now time.Time) ([]byte, error) {
	name, err := asn1.Marshal(pkix.RDNSequence{{{Type: oidCommonName, Value: asn1.RawValue{
		Tag: asn1.TagUTF8String, Class: asn1.ClassUniversal, Bytes: []byte(certCN),
	}}}})
	if err != nil {
		return nil, fmt.Errorf("encoding the certificate name: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	start := now.UTC().Truncate(time.Second)
	tbs, err := asn1.Marshal(tbsCertificateV1{
		SerialNumber:       big.NewInt(1),
		SignatureAlgorithm: alg,
		Issuer:             asn1.RawValue{FullBytes: name},
		Validity:           validity{NotBefore: start, NotAfter: start.Add(certValidity)},
		Subject:            asn1.RawValue{FullBytes: name},
		PublicKey:          asn1.RawValue{FullBytes: spki},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the certificate: %w", err)
	}
	digest := sha256.Sum256(tbs)
	sig, err := rsa.SignPKCS1v15(rand, key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing the certificate: %w", err)
	}
	der, err := asn1.Marshal(certificate{
		TBSCertificate:     asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: alg,
		SignatureValue:     asn1.BitString{Bytes: sig, BitLength: len(sig) * 8},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the signed certificate: %w", err)
	}
	return der, nil
}

func newIdentity(key crypto.Signer, der []byte) (*Identity, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the Tub certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("the private key does not match the certificate's public key")
	}
	return &Identity{key: key, cert: cert, tubID: TubIDFromDER(der)}, nil
}

// ParseIdentityPEM loads a python-foolscap certificate file (certFile=,
// gatherer.pem, Tahoe's private/node.pem): one CERTIFICATE block and one
// PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1) block, in either order.
// Legacy 1024-bit keys with MD5-signed certificates load too, so old nodes
// keep their tubid.
func ParseIdentityPEM(b []byte) (*Identity, error) {
	if len(b) > maxPEMSize {
		return nil, fmt.Errorf("identity file is %d bytes, more than the %d a certificate and key need", len(b), maxPEMSize)
	}
	var der []byte
	var key *rsa.PrivateKey
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			if der == nil {
				der = blk.Bytes
			}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("reading the PRIVATE KEY block: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the private key is a %T; foolscap identities are RSA", k)
			}
			key = rk
		case "RSA PRIVATE KEY":
			rk, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("reading the RSA PRIVATE KEY block: %w", err)
			}
			key = rk
		}
	}
	switch {
	case der == nil:
		return nil, errors.New("identity file has no CERTIFICATE block")
	case key == nil:
		return nil, errors.New("identity file has no PRIVATE KEY or RSA PRIVATE KEY block")
	case key.N.BitLen() < minRSABits:
		return nil, fmt.Errorf("the RSA key has %d bits, fewer than the %d foolscap ever made", key.N.BitLen(), minRSABits)
	}
	return newIdentity(key, bytes.Clone(der))
}

// MarshalPEM writes the identity in python-foolscap's layout: the
// CERTIFICATE block, then the key as a PKCS#8 PRIVATE KEY block.
func (id *Identity) MarshalPEM() ([]byte, error) {
	pk, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	var buf bytes.Buffer
	buf.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Raw}))
	buf.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))
	return buf.Bytes(), nil
}

// TubID returns the identity's tubid (32 lowercase base32 characters).
func (id *Identity) TubID() string { return id.tubID }

// Certificate returns the parsed certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// TLSCertificate returns the certificate and key for a tls.Config.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.cert.Raw}, PrivateKey: id.key, Leaf: id.cert}
}
