package sshexec

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ParseKeys returns the signers in spec, the value of
// Containers.DispatchPrivateKey: PEM text holding one or more private
// keys, or "file:///path" naming a file that holds it. Every key type
// ssh.ParsePrivateKey handles (RSA, ECDSA, ED25519, DSA) is accepted;
// passphrase-protected keys are not.
func ParseKeys(spec string) ([]ssh.Signer, error) {
	what := "DispatchPrivateKey"
	data := []byte(spec)
	if path, ok := strings.CutPrefix(spec, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot read key file: %w", what, err)
		}
		what += " file " + path
		data = b
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty", what)
	}
	var signers []ssh.Signer
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		signer, err := ssh.ParsePrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d (%s) is not a usable private key: %w", what, len(signers)+1, block.Type, err)
		}
		signers = append(signers, signer)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("%s is not a private key (no PEM block found)", what)
	}
	return signers, nil
}
