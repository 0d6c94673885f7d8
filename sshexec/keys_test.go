package sshexec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// pemKey returns priv in OpenSSH PEM format, and its public key.
func pemKey(t *testing.T, priv crypto.PrivateKey) (string, ssh.PublicKey) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), signer.PublicKey()
}

func TestParseKeys(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPEM, edPub := pemKey(t, edKey)
	ecPEM, ecPub := pemKey(t, ecKey)
	rsaSigner, _ := ssh.NewSignerFromKey(rsaKey)
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(edPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec string
		want []ssh.PublicKey
	}{
		{"ed25519", edPEM, []ssh.PublicKey{edPub}},
		{"ecdsa", ecPEM, []ssh.PublicKey{ecPub}},
		{"rsa pkcs1", rsaPEM, []ssh.PublicKey{rsaSigner.PublicKey()}},
		{"surrounding blanks", "\n" + edPEM + "\n\n", []ssh.PublicKey{edPub}},
		{"two keys", edPEM + ecPEM, []ssh.PublicKey{edPub, ecPub}},
		{"file", "file://" + keyFile, []ssh.PublicKey{edPub}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers, err := ParseKeys(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if len(signers) != len(tc.want) {
				t.Fatalf("%d signers, want %d", len(signers), len(tc.want))
			}
			for i, s := range signers {
				if !bytes.Equal(s.PublicKey().Marshal(), tc.want[i].Marshal()) {
					t.Errorf("signer %d has the wrong public key", i)
				}
			}
		})
	}
}

func TestParseKeysErrors(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(edKey, "", []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, spec string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"DispatchPrivateKey is empty"}},
		{"blank", " \n", []string{"DispatchPrivateKey is empty"}},
		{"empty file", "file://" + empty, []string{"DispatchPrivateKey file " + empty + " is empty"}},
		{"missing file", "file://" + missing, []string{"cannot read key file", missing}},
		{"not pem", "ssh-ed25519 AAAA... user@host", []string{"not a private key"}},
		{"certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", []string{"PEM block 1 (CERTIFICATE) is not a usable private key"}},
		{"passphrase", string(pem.EncodeToMemory(block)), []string{"not a usable private key", "passphrase"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeys(tc.spec)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
