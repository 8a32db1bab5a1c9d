package smime_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"strings"

	"mailwarden/smime"
)

// Example builds a signer and an encrypter from files as smtpcheck's flags
// name them, signs and encrypts an alert in one pass, and opens the result
// as the recipient.
func Example() {
	// --sign-p12 --sign-password-file --sign-hash sha384 --attach-cert
	id, err := smime.LoadIdentityFiles(smime.IdentityFiles{
		P12:          "../testdata/certs/signer-rsa.p12",
		PasswordFile: "../testdata/certs/PASSWORD",
	})
	if err != nil {
		log.Fatal(err)
	}
	hash, _ := smime.ParseHash("sha384")
	signer, err := smime.NewSigner(smime.SignConfig{Identity: id, Hash: hash})
	if err != nil {
		log.Fatal(err)
	}

	// --encrypt-cert (repeatable) --encrypt-cipher aes256-gcm --encrypt-to-self
	rcpts, err := smime.LoadCertificateFile("../testdata/certs/recipient-rsa.pem")
	if err != nil {
		log.Fatal(err)
	}
	cipher, _ := smime.ParseCipher("aes256-gcm")
	enc, err := smime.NewEncrypter(smime.EncryptConfig{Recipients: rcpts, Self: id.Cert, Cipher: cipher})
	if err != nil {
		log.Fatal(err)
	}

	// "Verify" button / smtpcheck smime verify.
	if err := smime.Verify(smime.VerifyConfig{Signer: id, From: "Alerts <alerts@example.com>", Recipients: rcpts}); err != nil {
		log.Fatal(err)
	}

	// envelope writes the top-level headers, then the inner entity through Wrap.
	var msg bytes.Buffer
	msg.WriteString("From: alerts@example.com\r\nTo: security@example.org\r\nSubject: disk full\r\nMIME-Version: 1.0\r\n")
	w, err := smime.SignAndEncrypt(signer, enc).Wrap(&msg)
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, "Content-Type: text/plain; charset=us-ascii\r\n\r\nDisk /var is 97% full on db1.\r\n")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// The recipient's side.
	me, _ := smime.LoadPEMFiles("../testdata/certs/recipient-rsa.pem", "../testdata/certs/recipient-rsa.key")
	ca, _ := smime.LoadCertificateFile("../testdata/certs/ca.pem")
	roots := x509.NewCertPool()
	roots.AddCert(ca[0])
	m, err := smime.Open(&msg, smime.OpenOptions{Identity: me, Roots: roots})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypted with", m.Cipher)
	fmt.Println("signed by", m.Signers[0].Subject.CommonName)
	fmt.Print(strings.ReplaceAll(string(m.Entity), "\r\n", "\n"))
	// Output:
	// encrypted with aes256-gcm
	// signed by Alerts Signer RSA
	// Content-Type: text/plain; charset=us-ascii
	//
	// Disk /var is 97% full on db1.
}
