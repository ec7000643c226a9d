package negotiate

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

func TestNewIdentityMatchesFoolscapCertificate(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 7, 5, 123, time.UTC)
	id, err := NewIdentity(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	c := id.Certificate()
	checks := []struct {
		name string
		ok   bool
	}{
		{"version 1", c.Version == 1},
		{"serial 1", c.SerialNumber.Int64() == 1},
		{"subject CN", c.Subject.String() == "CN=newpb_thingy"},
		{"self-issued", bytes.Equal(c.RawSubject, c.RawIssuer)},
		{"UTF8String CN", bytes.Contains(c.RawSubject, []byte{0x0c, 12, 'n', 'e', 'w', 'p', 'b'})},
		{"sha256WithRSA", c.SignatureAlgorithm == x509.SHA256WithRSA},
		{"no extensions", len(c.Extensions) == 0},
		{"RSA-2048", c.PublicKey.(interface{ Size() int }).Size() == 256},
		{"notBefore now", c.NotBefore.Equal(now.Truncate(time.Second))},
		{"365 days", c.NotAfter.Sub(c.NotBefore) == 365*24*time.Hour},
		{"self-signed", checkSelfSigned(c) == nil},
		{"tubid form", len(id.TubID()) == 32 && strings.Trim(id.TubID(), "abcdefghijklmnopqrstuvwxyz234567") == ""},
		{"tubid is hash", id.TubID() == TubIDFromDER(c.Raw)},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("certificate check %q failed", ch.name)
		}
	}
	pemBytes, err := id.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rest := pemBytes; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		types = append(types, b.Type)
	}
	if strings.Join(types, ",") != "CERTIFICATE,PRIVATE KEY" {
		t.Errorf("PEM blocks = %v, want CERTIFICATE then PRIVATE KEY", types)
	}
	back, err := ParseIdentityPEM(pemBytes)
	if err != nil || back.TubID() != id.TubID() {
		t.Fatalf("round trip: %v, %v", back, err)
	}
}

func TestTubIDFromDERKnownValue(t *testing.T) {
	// SHA-1 of the empty input is da39a3ee...; its base32 is fixed.
	if got, want := TubIDFromDER(nil), "3i42h3s6nnfq2msvx7xzkyayscx5qbyj"; got != want {
		t.Errorf("TubIDFromDER(nil) = %q, want %q", got, want)
	}
}

// TestIdentityInteropWithPython: Python reads our PEM and reports our tubid;
// we read Python's (current and legacy) and compute its tubid.
func TestIdentityInteropWithPython(t *testing.T) {
	pyfoolscap.Need(t)
	t.Run("python loads ours", func(t *testing.T) {
		id := mustIdentity(t)
		if got := runPython(t, "testdata/pyident.py", "tub-load", writePEM(t, id)); got != id.TubID() {
			t.Errorf("python Tub(certFile=ours).getTubID() = %q, we say %q", got, id.TubID())
		}
	})
	tests := []struct {
		name, cmd string
	}{
		{"we load a Tub's certFile", "tub-create"},
		{"we load a legacy 1024-bit MD5 identity with the key first", "legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/py.pem"
			pyTubID := runPython(t, "testdata/pyident.py", tt.cmd, path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			id, err := ParseIdentityPEM(b)
			if err != nil {
				t.Fatalf("ParseIdentityPEM(python's file): %v", err)
			}
			if id.TubID() != pyTubID {
				t.Errorf("tubid = %q, python says %q", id.TubID(), pyTubID)
			}
			// Our re-encoding must keep the tubid (the cert bytes are kept).
			again, err := id.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			if got := runPython(t, "testdata/pyident.py", "tub-load", writeFile(t, again)); got != pyTubID {
				t.Errorf("python reads our re-encoding as %q, want %q", got, pyTubID)
			}
		})
	}
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := t.TempDir() + "/f.pem"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseIdentityPEMErrors(t *testing.T) {
	a, b := mustIdentity(t), mustIdentity(t)
	pa, _ := a.MarshalPEM()
	pb, _ := b.MarshalPEM()
	certA, keyA := splitPEM(t, pa)
	_, keyB := splitPEM(t, pb)
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "no CERTIFICATE"},
		{"garbage", []byte("hello"), "no CERTIFICATE"},
		{"cert only", certA, "no PRIVATE KEY"},
		{"key only", keyA, "no CERTIFICATE"},
		{"mismatched key", append(append([]byte{}, certA...), keyB...), "does not match"},
		{"corrupt key", append(append([]byte{}, certA...), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")...), "PRIVATE KEY block"},
		{"too big", bytes.Repeat([]byte("x"), maxPEMSize+1), "more than"},
		{"key first is fine", append(append([]byte{}, keyA...), certA...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseIdentityPEM(tt.in)
			if tt.wantErr == "" {
				if err != nil || id.TubID() != a.TubID() {
					t.Fatalf("ParseIdentityPEM = %v, %v", id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func splitPEM(t *testing.T, b []byte) (cert, key []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("-----BEGIN PRIVATE KEY"))
	if i < 0 {
		t.Fatal("no key block")
	}
	return b[:i], b[i:]
}

func TestEphemeralIdentity(t *testing.T) {
	id, err := NewEphemeralIdentity(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := id.Certificate()
	if got := TubIDFromDER(cert.Raw); got != id.TubID() || len(got) != 32 {
		t.Errorf("tubid %q, want the hash of the certificate %q", id.TubID(), got)
	}
	if len(cert.Extensions) != 0 {
		t.Errorf("ephemeral certificate carries %d extensions, want none", len(cert.Extensions))
	}
	if cert.Subject.CommonName != "newpb_thingy" || cert.Issuer.CommonName != "newpb_thingy" {
		t.Errorf("subject %q issuer %q", cert.Subject, cert.Issuer)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}
